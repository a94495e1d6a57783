package mfa

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// TestPasskeyRanksFirst: the passkey is the strongest method (SPEC §4), so
// the challenge offers it first and "Try another way" lists the rest; a
// passkey the owner no longer allows is simply not offered.
func TestPasskeyRanksFirst(t *testing.T) {
	pk := gatehouse.MethodPasskey
	tests := []struct {
		name        string
		allowed     []gatehouse.Method
		has         []gatehouse.Method
		wantMethod  gatehouse.Method
		wantOptions []gatehouse.Method
	}{
		{"passkey and codes", []gatehouse.Method{pk, totp, sms, email}, []gatehouse.Method{email, totp, pk}, pk, []gatehouse.Method{pk, totp, email}},
		{"passkey alone", []gatehouse.Method{pk, totp}, []gatehouse.Method{pk}, pk, []gatehouse.Method{pk}},
		{"passkey disallowed", []gatehouse.Method{totp, email}, []gatehouse.Method{pk, email}, email, []gatehouse.Method{email}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(Input{Plan: gatehouse.PlanPro, Settings: settings(gatehouse.MFAOptional, tt.allowed...), Methods: tt.has, Now: now})
			if d.Next != Challenge || d.Method != tt.wantMethod || !slices.Equal(d.Options, tt.wantOptions) {
				t.Fatalf("Decide = %+v, want a challenge with %s among %v", d, tt.wantMethod, tt.wantOptions)
			}
		})
	}
	if got := gatehouse.SortMethods([]gatehouse.Method{email, sms, totp, pk}); !slices.Equal(got, []gatehouse.Method{pk, totp, sms, email}) {
		t.Fatalf("SortMethods = %v, want passkey, totp, sms, email", got)
	}
	if m, err := gatehouse.ParseMethod("passkey"); err != nil || m != pk {
		t.Fatalf("ParseMethod(passkey) = %q, %v", m, err)
	}
}
