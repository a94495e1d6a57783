package twiliotest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/twilio/twiliotest"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "f00dfeedc0ffee00deadbeef12345678"
)

// post sends form to path on tw with the given credentials and decodes the
// JSON reply.
func post(tb testing.TB, tw *twiliotest.Server, method, path, user, pass string, form url.Values) (int, map[string]any) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, tw.URL()+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		tb.Fatalf("decode reply: %v", err)
	}
	return resp.StatusCode, body
}

const messagesPath = "/2010-04-01/Accounts/" + sid + "/Messages.json"

func TestSuccessBody(t *testing.T) {
	tw := twiliotest.NewServer(t, sid, token)
	status, body := post(t, tw, "POST", messagesPath, sid, token, url.Values{
		"To": {"+447700900123"}, "From": {"+15005550006"}, "Body": {"Your code is 123456"}, "ValidityPeriod": {"600"},
	})
	if status != http.StatusCreated {
		t.Fatalf("status %d, body %v", status, body)
	}
	want := map[string]any{
		"account_sid": sid, "to": "+447700900123", "from": "+15005550006", "body": "Your code is 123456",
		"status": "queued", "num_segments": "1", "num_media": "0", "direction": "outbound-api",
		"api_version": "2010-04-01", "messaging_service_sid": nil, "error_code": nil, "price": nil,
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	sms, _ := body["sid"].(string)
	if len(sms) != 34 || !strings.HasPrefix(sms, "SM") {
		t.Errorf("sid = %q", sms)
	}
	if body["uri"] != "/2010-04-01/Accounts/"+sid+"/Messages/"+sms+".json" {
		t.Errorf("uri = %v", body["uri"])
	}
	if _, err := time.Parse(time.RFC1123Z, body["date_created"].(string)); err != nil {
		t.Errorf("date_created: %v", err)
	}
	if got := tw.Last(); got.SID != sms || got.ValidityPeriod != "600" {
		t.Errorf("Last() = %+v", got)
	}

	// Through a Messaging Service: "accepted", and from is null.
	_, body = post(t, tw, "POST", messagesPath, sid, token, url.Values{
		"To": {"+447700900123"}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {strings.Repeat("x", 161)},
	})
	if body["status"] != "accepted" || body["from"] != nil || body["num_segments"] != "2" {
		t.Errorf("messaging service reply: status %v, from %v, segments %v", body["status"], body["from"], body["num_segments"])
	}
	if got := tw.Messages(); len(got) != 2 || got[1].SID == got[0].SID {
		t.Errorf("Messages() = %+v", got)
	}
}

func TestRefusals(t *testing.T) {
	ok := url.Values{"To": {"+447700900123"}, "From": {"+15005550006"}, "Body": {"hi"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for key, vals := range ok {
			f[key] = vals
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name       string
		method     string
		path       string
		user, pass string
		form       url.Values
		status     int
		code       float64
		message    string
	}{
		{name: "wrong token", user: sid, pass: "nope", form: ok, status: 401, code: 20003, message: "Authenticate"},
		{name: "no auth", form: ok, status: 401, code: 20003, message: "Authenticate"},
		{name: "other account", path: "/2010-04-01/Accounts/AC0000000000000000000000000000000/Messages.json", user: sid, pass: token, form: ok, status: 404, code: 20404},
		{name: "GET", method: "GET", user: sid, pass: token, form: ok, status: 405, code: 20004},
		{name: "no To", user: sid, pass: token, form: with("To", ""), status: 400, code: 21604},
		{name: "bad To", user: sid, pass: token, form: with("To", "0770"), status: 400, code: 21211, message: "Invalid 'To' Phone Number: 0770"},
		{name: "no Body", user: sid, pass: token, form: with("Body", ""), status: 400, code: 21602},
		{name: "no sender", user: sid, pass: token, form: with("From", ""), status: 400, code: 21603},
		{name: "both senders", user: sid, pass: token, form: with("MessagingServiceSid", "MG0123456789abcdef0123456789abcdef"), status: 400, code: 21603},
		{name: "validity 0", user: sid, pass: token, form: with("ValidityPeriod", "0"), status: 400, code: 21624},
		{name: "validity too long", user: sid, pass: token, form: with("ValidityPeriod", "36001"), status: 400, code: 21624},
		{name: "validity not a number", user: sid, pass: token, form: with("ValidityPeriod", "10m"), status: 400, code: 21624},
	}
	tw := twiliotest.NewServer(t, sid, token)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path := tt.method, tt.path
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = messagesPath
			}
			status, body := post(t, tw, method, path, tt.user, tt.pass, tt.form)
			if status != tt.status || body["code"] != tt.code || body["status"] != float64(tt.status) {
				t.Errorf("got %d %v, want %d with code %v", status, body, tt.status, tt.code)
			}
			if tt.message != "" && body["message"] != tt.message {
				t.Errorf("message = %q, want %q", body["message"], tt.message)
			}
			if !strings.HasPrefix(body["more_info"].(string), "https://www.twilio.com/docs/errors/") {
				t.Errorf("more_info = %v", body["more_info"])
			}
		})
	}
	if n := len(tw.Messages()); n != 0 {
		t.Errorf("%d messages recorded, want none", n)
	}
	if n := tw.Requests(); n != len(tests) {
		t.Errorf("Requests() = %d, want %d", n, len(tests))
	}
	if (tw.Last() != twiliotest.Message{}) {
		t.Errorf("Last() = %+v, want the zero Message", tw.Last())
	}
}

func TestConcurrentSends(t *testing.T) {
	tw := twiliotest.NewServer(t, sid, token)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			status, _ := post(t, tw, "POST", messagesPath, sid, token, url.Values{
				"To": {"+447700900123"}, "From": {"+15005550006"}, "Body": {"hi"},
			})
			if status != http.StatusCreated {
				t.Errorf("status %d", status)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, m := range tw.Messages() {
		if seen[m.SID] {
			t.Errorf("SID %s given twice", m.SID)
		}
		seen[m.SID] = true
	}
	if len(seen) != 20 || tw.Requests() != 20 {
		t.Errorf("%d messages, %d requests; want 20 each", len(seen), tw.Requests())
	}
}
