package mfa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/gatehouse-dev/gatehouse"
)

// SMS errors, worded for the form that caused them.
var (
	ErrPhoneInvalid  = errors.New("Enter a valid mobile number for the country you chose.")
	ErrPhoneNotSMS   = errors.New("That number cannot receive text messages (it looks like a landline or a service number).")
	ErrSMSCountry    = errors.New("Text messages to that country are not allowed by this workspace. Choose another method.")
	ErrSMSCap        = errors.New("This workspace has sent too many text messages for now. Try another method, or try again later.")
	ErrSMSIPCap      = errors.New("Too many text messages were asked for from your network. Try another method, or try again later.")
	ErrSMSNotReady   = errors.New("Text messages are not set up for this workspace.")
	ErrSMSNoPhone    = errors.New("Add a phone number first.")
	errDeliveryStart = " (Twilio"
)

// DeliveryError reports that a text message could not be delivered.
type DeliveryError struct{ Reason string }

func (e *DeliveryError) Error() string { return e.Reason }

// smsPerIPPerHour limits SMS sends per client address: 10 an hour, so one
// visitor cannot pump texts through many accounts.
const smsPerIPPerHour = 10

// awaitDeliveryTimeout is how long a request waits for a code's first delivery attempt, so
// that Twilio's verdict on a number (21211, 21614, 21408, 21610) reaches the
// form that entered it.
const awaitDeliveryTimeout = 8 * time.Second

// Queue is the durable outbox for codes, e-mail and SMS.
type Queue interface {
	// EnqueueEmail queues an e-mail and returns its ID.
	EnqueueEmail(ctx context.Context, workspaceID int64, to, subject, body string) (int64, error)
	// EnqueueSMS queues a text to the E.164 number and returns its ID.
	EnqueueSMS(ctx context.Context, workspaceID int64, to, body string) (int64, error)
	// Await returns the message once its first delivery attempt is over, or
	// as it stands when timeout passes.
	Await(ctx context.Context, id int64, timeout time.Duration) (*gatehouse.Message, error)
}

// ParsePhone turns a country (ISO 3166 alpha-2) and a number as typed into
// E.164 and the number's region. It refuses what libphonenumber knows cannot
// receive a text (landlines, toll-free, premium, shared-cost and voicemail
// numbers); a well-formed number of unknown type goes on to Twilio, whose
// answer (21211, 21614) is then shown on the form.
func ParsePhone(country, number string) (e164, region string, err error) {
	country = strings.ToUpper(strings.TrimSpace(country))
	number = strings.TrimSpace(number)
	if len(country) != 2 || number == "" || len(number) > 40 {
		return "", "", ErrPhoneInvalid
	}
	n, err := phonenumbers.Parse(number, country)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", "", ErrPhoneInvalid
	}
	switch phonenumbers.GetNumberType(n) {
	case phonenumbers.FIXED_LINE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST,
		phonenumbers.UAN, phonenumbers.VOICEMAIL:
		return "", "", ErrPhoneNotSMS
	}
	region = phonenumbers.GetRegionCodeForNumber(n)
	if region == "" && phonenumbers.GetCountryCodeForRegion(country) == int(n.GetCountryCode()) {
		region = country
	}
	e164 = phonenumbers.Format(n, phonenumbers.E164)
	// A number the library formats into something it then reads back as
	// another number ("000000" in DE gave +4900000, which reads back as
	// +490000) is not a number at all: the form, Twilio and the country
	// guard, which reads the stored E.164, would each see a different one.
	// E.164 allows at most 15 digits; ("JP", "00100000000000") gave 16.
	if again, err := phonenumbers.Parse(e164, ""); err != nil || phonenumbers.Format(again, phonenumbers.E164) != e164 || len(e164) > 1+15 {
		return "", "", ErrPhoneInvalid
	}
	return e164, region, nil
}

// PhoneRegion returns the region of an E.164 number ("" when unknown).
func PhoneRegion(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	if r := phonenumbers.GetRegionCodeForNumber(n); r != "" {
		return r
	}
	// A number outside the library's ranges still has a calling code; take
	// the main region for it, so a country guard still applies.
	return phonenumbers.GetRegionCodeForCountryCode(int(n.GetCountryCode()))
}

// MaskPhone shows only the last digits of a number ("•••• 0123").
func MaskPhone(e164 string) string {
	if len(e164) < 4 {
		return "••••"
	}
	return "•••• " + e164[len(e164)-4:]
}

// guardSMS applies the workspace's SMS guard to a send to e164 from ip: the
// country list, the hourly and daily caps and the per-address limit. Each
// refusal is audited.
func (s *Service) guardSMS(ctx context.Context, v *gatehouse.Visit, e164, ip string, now time.Time) error {
	ws := &v.Workspace
	if s.Queue == nil || !ws.Twilio.Ready() {
		return ErrSMSNotReady
	}
	refuse := func(err error, why string) error {
		s.audit(ctx, v, v.User.ID, "sms.refused", ip, why)
		return err
	}
	if region := PhoneRegion(e164); !ws.SMSGuard.AllowsCountry(region) {
		return refuse(ErrSMSCountry, "country "+region+" not allowed")
	}
	// The workspace's caps and the address's limit, taken in one atomic
	// step: parallel sends on any number of instances cannot pass a cap,
	// and a refused send counts against none of them.
	limits := []gatehouse.Limit{
		{Key: "sms:hour", Max: ws.SMSGuard.HourlyCap, Window: time.Hour},
		{Key: "sms:day", Max: ws.SMSGuard.DailyCap, Window: 24 * time.Hour},
		{Key: "smsip:" + gatehouse.ClientKey(ip), Max: smsPerIPPerHour, Window: time.Hour},
	}
	switch full, err := s.Store.TakeLimits(ctx, ws.ID, now, limits...); {
	case err != nil:
		return err
	case full == 0:
		return refuse(ErrSMSCap, fmt.Sprintf("hourly cap of %d reached", ws.SMSGuard.HourlyCap))
	case full == 1:
		return refuse(ErrSMSCap, fmt.Sprintf("daily cap of %d reached", ws.SMSGuard.DailyCap))
	case full == 2:
		return refuse(ErrSMSIPCap, "per-address limit for "+ip)
	}
	return nil
}

// sendSMS queues a text and waits for its first attempt, so that a number
// Twilio refuses is reported to the form at once. A temporary failure is
// left to the outbox's retries and is not an error here.
func (s *Service) sendSMS(ctx context.Context, v *gatehouse.Visit, to, body string) error {
	id, err := s.Queue.EnqueueSMS(ctx, v.Workspace.ID, to, body)
	if err != nil {
		return err
	}
	return s.awaitSMS(ctx, id)
}

// awaitSMS waits for a queued text's first delivery attempt.
func (s *Service) awaitSMS(ctx context.Context, id int64) error {
	return s.awaitDelivery(ctx, id, func(lastError string) string {
		if i := strings.Index(lastError, errDeliveryStart); i > 0 {
			return lastError[:i] // the friendly part; Twilio's own words stay in the log
		}
		return lastError
	})
}

// awaitDelivery waits for a queued code's first delivery attempt and turns
// a failure the outbox gave up on into a DeliveryError worded by reason (a
// failure it will retry is not an error here: the code may still arrive).
func (s *Service) awaitDelivery(ctx context.Context, id int64, reason func(lastError string) string) error {
	m, err := s.Queue.Await(ctx, id, awaitDeliveryTimeout)
	if err != nil {
		return err
	}
	if m.Status == gatehouse.MessageFailed {
		return &DeliveryError{Reason: reason(m.LastError)}
	}
	return nil
}

// smsFactor returns the user's SMS factor (active or pending).
func (s *Service) smsFactor(ctx context.Context, v *gatehouse.Visit) (*Factor, error) {
	f, err := s.factor(ctx, v, gatehouse.MethodSMS)
	if err != nil {
		return nil, err
	}
	if f == nil || f.Phone == "" {
		return nil, ErrSMSNoPhone
	}
	return f, nil
}

// StartSMS begins SMS enrollment or a phone change: the number becomes the
// user's pending SMS factor and a code is sent to it. The method is active
// only once ConfirmSMS gets that code back.
func (s *Service) StartSMS(ctx context.Context, v *gatehouse.Visit, country, number, ip string) (string, error) {
	if !v.Workspace.MFA.Allows(gatehouse.MethodSMS) || !v.Workspace.Twilio.Ready() {
		return "", ErrUnavailable
	}
	e164, _, err := ParsePhone(country, number)
	if err != nil {
		return "", err
	}
	// A new number makes the method pending until it is confirmed: refuse
	// that when SMS is the only way this user may still sign in.
	if contains(v.Methods, gatehouse.MethodSMS) && !CanDisable(v, gatehouse.MethodSMS) {
		return "", ErrLastMethod
	}
	old, err := s.factor(ctx, v, gatehouse.MethodSMS)
	if err != nil {
		return "", err
	}
	if old != nil && !old.Active && old.Phone == e164 {
		// The pending number again: a new code, paced as usual.
		return e164, s.sendCode(ctx, v, gatehouse.MethodSMS, e164, ip)
	}
	now := s.Now()
	// A new number: codes sent to the old one are void, as their MACs name
	// it, and the minute since the last of them does not hold back the first
	// code to this one. The store judges again, in its transaction, that a
	// way in remains: a disable at the same moment read SMS as active.
	f := &Factor{UserID: v.User.ID, Method: gatehouse.MethodSMS, Phone: e164, CreatedAt: now}
	if err := s.Store.ChangePhone(ctx, v.Workspace.ID, f, keepOneOf(v), now.Add(-ResendGap)); err != nil {
		return "", err
	}
	return e164, s.sendCode(ctx, v, gatehouse.MethodSMS, e164, ip)
}

// ConfirmSMS activates the pending phone with the code sent to it.
func (s *Service) ConfirmSMS(ctx context.Context, v *gatehouse.Visit, code, ip string) error {
	now := s.Now()
	f, err := s.smsFactor(ctx, v)
	switch {
	case errors.Is(err, ErrSMSNoPhone):
		return ErrNotPending
	case err != nil:
		return err // a failed read is not "nothing to confirm"
	case f.Active:
		return ErrNotPending
	}
	if !v.Workspace.MFA.Allows(gatehouse.MethodSMS) {
		return ErrUnavailable
	}
	// The code must be one sent to this number...
	if err := s.confirm(ctx, v, now, func() error { return s.useCode(ctx, v, gatehouse.MethodSMS, f.Phone, code, now) }); err != nil {
		return err
	}
	// ...and the number activated the one it was checked for: a new start
	// meanwhile replaced it with a number nobody has confirmed.
	_, err = s.addMethod(ctx, v, f, nil, ip)
	return err
}

// TwilioAccount checks and seals a Twilio account for ws (also used by the
// CLI). from is an E.164 number or a Messaging Service SID (MG…).
func (s *Service) TwilioAccount(ws *gatehouse.Workspace, sid, token, from string) (gatehouse.TwilioAccount, error) {
	sid, token, from = strings.TrimSpace(sid), strings.TrimSpace(token), strings.TrimSpace(from)
	acct := gatehouse.TwilioAccount{AccountSID: sid, AuthToken: ws.Twilio.AuthToken}
	if !validSID(sid, "AC") {
		return acct, fmt.Errorf("%w: the Account SID is AC followed by 32 hexadecimal characters", gatehouse.ErrInvalid)
	}
	switch {
	case validSID(from, "MG"):
		acct.MessagingServiceSID = from
	case strings.HasPrefix(from, "+"):
		e164, _, err := ParsePhone("US", from) // the + makes the country hint moot
		if err != nil {
			return acct, fmt.Errorf("%w: the sender must be a number like +15017122661 or a Messaging Service SID (MG…)", gatehouse.ErrInvalid)
		}
		acct.From = e164
	default:
		return acct, fmt.Errorf("%w: the sender must be a number like +15017122661 or a Messaging Service SID (MG…)", gatehouse.ErrInvalid)
	}
	if token != "" {
		acct.AuthToken = s.Keys.Seal([]byte(token), gatehouse.TwilioTokenAAD(ws.ID))
	}
	if len(acct.AuthToken) == 0 {
		return acct, fmt.Errorf("%w: enter the Auth Token", gatehouse.ErrInvalid)
	}
	return acct, nil
}

func validSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// SendTestSMS sends a test text for the owner, through the same outbox and
// guard as codes.
func (s *Service) SendTestSMS(ctx context.Context, v *gatehouse.Visit, country, number, ip string) error {
	if v.User.Role != gatehouse.RoleOwner {
		return ErrForbidden
	}
	e164, _, err := ParsePhone(country, number)
	if err != nil {
		return err
	}
	if err := s.guardSMS(ctx, v, e164, ip, s.Now()); err != nil {
		return err
	}
	s.audit(ctx, v, 0, "sms.test", ip, MaskPhone(e164))
	return s.sendSMS(ctx, v, e164, "Test message from "+v.Workspace.DisplayName()+" (Gatehouse): text messages work.")
}
