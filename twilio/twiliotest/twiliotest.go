// Package twiliotest is a fake of Twilio's Messages API for tests in any
// package. It speaks Twilio's shape (paths, Basic auth, form fields, JSON
// replies and error bodies, down to the real error texts), records what it
// accepts, and fails on demand:
//
//	tw := twiliotest.NewServer(t, sid, token)
//	tw.FailNext("+447700900123", 21211, 400)
//	// point GATEHOUSE_TWILIO_API_BASE or twilio.Client.APIBase at tw.URL()
//
// It imports only the standard library, so any package's tests may use it.
package twiliotest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Message is one message the server accepted, with its form fields as sent.
type Message struct {
	SID                 string // the "SM…" SID the server gave it
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	ValidityPeriod      string // "" when the request set none
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	sid, token string
	srv        *httptest.Server

	mu         sync.Mutex
	requests   int
	messages   []Message
	failNext   map[string][]failure // by recipient; "" matches any
	failAlways map[string]failure
}

type failure struct{ code, status int }

// NewServer starts a fake for the account sid with Auth Token token; it is
// closed when the test ends.
func NewServer(tb testing.TB, sid, token string) *Server {
	tb.Helper()
	s := &Server{
		sid:        sid,
		token:      token,
		failNext:   map[string][]failure{},
		failAlways: map[string]failure{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

// URL returns the API base to use as GATEHOUSE_TWILIO_API_BASE (no trailing
// slash).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server early, so that tests can see what a network error
// does; calling it again, or letting the cleanup do so, is harmless.
func (s *Server) Close() { s.srv.Close() }

// Requests returns how many requests arrived, failed ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Messages returns a copy of the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Last returns the message accepted last, or the zero Message if none was.
func (s *Server) Last() Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.messages) == 0 {
		return Message{}
	}
	return s.messages[len(s.messages)-1]
}

// FailNext makes the next valid send to to fail with Twilio error code and
// HTTP status httpStatus; calls queue up, one failure per send. An empty to
// matches any recipient. httpStatus 0 picks Twilio's usual one for the code
// (429 for 20429, 401 for 20003, 500 for 20500, otherwise 400). Code 0
// answers with a plain-text body and no Twilio code, as a proxy in front of
// Twilio might (use it with 500, 502, 503). Queued failures come before any
// FailAlways for the same number.
func (s *Server) FailNext(to string, code, httpStatus int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[to] = append(s.failNext[to], failure{code, defaultStatus(code, httpStatus)})
}

// FailAlways makes every valid send to to fail as FailNext describes, until
// it is called again for to; code and httpStatus both 0 lift the failure.
func (s *Server) FailAlways(to string, code, httpStatus int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 && httpStatus == 0 {
		delete(s.failAlways, to)
		return
	}
	s.failAlways[to] = failure{code, defaultStatus(code, httpStatus)}
}

func defaultStatus(code, status int) int {
	if status != 0 {
		return status
	}
	switch code {
	case 20429:
		return http.StatusTooManyRequests
	case 20003:
		return http.StatusUnauthorized
	case 20500, 0:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// scripted returns the failure due for a send to to, if any, using up a
// FailNext. The caller holds s.mu.
func (s *Server) scripted(to string) (failure, bool) {
	for _, key := range []string{to, ""} {
		if q := s.failNext[key]; len(q) > 0 {
			s.failNext[key] = q[1:]
			return q[0], true
		}
	}
	for _, key := range []string{to, ""} {
		if f, ok := s.failAlways[key]; ok {
			return f, true
		}
	}
	return failure{}, false
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	// Twilio checks the credentials before anything else.
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.sid)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	path := "/2010-04-01/Accounts/" + s.sid + "/Messages.json"
	if r.URL.Path != path {
		writeError(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Unable to parse the request body")
		return
	}
	m := Message{
		To:                  r.PostForm.Get("To"),
		From:                r.PostForm.Get("From"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"),
		Body:                r.PostForm.Get("Body"),
		ValidityPeriod:      r.PostForm.Get("ValidityPeriod"),
	}
	if code, msg := validate(m); code != 0 {
		writeError(w, http.StatusBadRequest, code, msg)
		return
	}

	s.mu.Lock()
	f, fail := s.scripted(m.To)
	if !fail {
		m.SID = fmt.Sprintf("SM%032x", len(s.messages)+1)
		s.messages = append(s.messages, m)
	}
	s.mu.Unlock()
	if fail {
		if f.code == 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(f.status)
			fmt.Fprintln(w, http.StatusText(f.status))
			return
		}
		writeError(w, f.status, f.code, errorText(f.code, m))
		return
	}
	s.writeMessage(w, m)
}

// validate checks a send the way Twilio does, returning its error code and
// text for the first problem, or 0.
func validate(m Message) (code int, msg string) {
	switch {
	case m.To == "":
		return 21604, "A 'To' phone number is required."
	case !e164.MatchString(m.To):
		return 21211, errorText(21211, m)
	case m.From == "" && m.MessagingServiceSID == "":
		return 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"
	case m.From != "" && m.MessagingServiceSID != "":
		// Twilio itself would accept both; Gatehouse must send exactly one.
		return 21603, "Send either 'From' or 'MessagingServiceSid', not both (twiliotest)"
	case m.From != "" && !e164.MatchString(m.From):
		return 21212, errorText(21212, m)
	case m.Body == "":
		return 21602, "Message body is required."
	case utf8.RuneCountInString(m.Body) > 1600:
		return 21617, "The concatenated message body exceeds the 1600 character limit."
	}
	if m.ValidityPeriod != "" {
		n, err := strconv.Atoi(m.ValidityPeriod)
		if err != nil || n < 1 || n > 36000 {
			return 21624, "Invalid validity period value"
		}
	}
	return 0, ""
}

// errorText is Twilio's message for code about m.
func errorText(code int, m Message) string {
	switch code {
	case 20003:
		return "Authenticate"
	case 20429:
		return "Too Many Requests"
	case 20500:
		return "An internal server error has occurred"
	case 21211:
		return "Invalid 'To' Phone Number: " + m.To
	case 21212:
		return "The 'From' number " + m.From + " is not a valid phone number, shortcode, or alphanumeric sender ID."
	case 21408:
		return "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: " + m.To
	case 21606:
		return "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination/account"
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21614:
		return "'To' number is not a valid mobile number"
	case 21659:
		return "Source number " + m.From + " is not a Twilio phone number or short code country mismatch"
	}
	return http.StatusText(http.StatusBadRequest)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Twilio's error body.
func writeError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		"status":    status,
	})
}

// writeMessage writes Twilio's 201 reply for a new message. Like Twilio, a
// message sent through a Messaging Service without a From is "accepted" (a
// sender is picked later), one with a From is "queued".
func (s *Server) writeMessage(w http.ResponseWriter, m Message) {
	now := time.Now().UTC().Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.sid + "/Messages/" + m.SID
	status := "queued"
	var from, service any // JSON null unless set
	if m.From != "" {
		from = m.From
	} else {
		status = "accepted"
	}
	if m.MessagingServiceSID != "" {
		service = m.MessagingServiceSID
	}
	w.Header().Set("Twilio-Request-Id", "RQ"+m.SID[2:])
	writeJSON(w, http.StatusCreated, map[string]any{
		"account_sid":           s.sid,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          now,
		"date_sent":             nil,
		"date_updated":          now,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  from,
		"messaging_service_sid": service,
		"num_media":             "0",
		"num_segments":          strconv.Itoa(segments(m.Body)),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	})
}

// segments estimates how many SMS parts body needs: 160 characters in one
// part or 153 per part for plain ASCII (close to GSM-7), 70 or 67 otherwise.
func segments(body string) int {
	single, multi := 160, 153
	for _, r := range body {
		if r > 0x7f {
			single, multi = 70, 67
			break
		}
	}
	n := utf8.RuneCountInString(body)
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}
