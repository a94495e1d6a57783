package gatehouse

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestNewWorkspace pins the defaults of a new workspace (SPEC §3, §6): the
// stores keep what they are given, so these are the only defaults.
func TestNewWorkspace(t *testing.T) {
	now := time.Date(2039, 6, 15, 12, 0, 0, 0, time.UTC)
	w := NewWorkspace("acme", "Acme", PlanPro, now)
	if w.Slug != "acme" || w.Name != "Acme" || w.Plan != PlanPro || !w.CreatedAt.Equal(now) || !w.UpdatedAt.Equal(now) {
		t.Fatalf("NewWorkspace = %+v", w)
	}
	if !w.RememberMeEnabled || w.SignupEnabled {
		t.Errorf("remember me %v, sign-up %v; want on, off", w.RememberMeEnabled, w.SignupEnabled)
	}
	m := w.MFA
	if m.Mode != MFADisabled || !slices.Equal(m.Methods, []Method{MethodPasskey, MethodTOTP, MethodEmail}) || m.TrustedDeviceDays != 30 ||
		m.GraceDays != 0 || !m.ModeChangedAt.Equal(now) {
		t.Errorf("MFA = %+v", m)
	}
	if err := m.Validate(false); err != nil {
		t.Errorf("default MFA settings do not validate: %v", err)
	}
	if g := w.SMSGuard; g.HourlyCap != 100 || g.DailyCap != 1000 || len(g.Countries) != 0 {
		t.Errorf("SMS guard = %+v, want 100 an hour, 1,000 a day, any country", g)
	}
	if !reflect.DeepEqual(w.Twilio, TwilioAccount{}) || w.Twilio.Ready() {
		t.Errorf("a new workspace has a Twilio account: %+v", w.Twilio)
	}
}
