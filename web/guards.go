package web

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/mfa"
)

// withVisit lets any session through, pending or not (verify, enrollment).
func (s *Server) withVisit(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reqOf(r).visit == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// enrolling lets through signed-in sessions and pending sessions that must
// enroll; a pending session that owes a challenge goes to verify first.
func (s *Server) enrolling(h http.HandlerFunc) http.Handler {
	return s.withVisit(func(w http.ResponseWriter, r *http.Request) {
		rq := reqOf(r)
		if rq.pending && rq.decision.Next != mfa.Enroll {
			http.Redirect(w, r, gateURL(rq.decision), http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// signedInSensitive is a sensitive change that is not enrollment (disable a
// method, new recovery codes, new password): no pending session reaches it.
func (s *Server) signedInSensitive(h http.HandlerFunc) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if !s.accounts.Recent(reqOf(r).visit) {
			http.Redirect(w, r, "/account/security/reauth", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// sensitive additionally asks for a recent re-verification (SPEC §6). A
// pending session enrolling has just typed its password, which counts.
func (s *Server) sensitive(h http.HandlerFunc) http.Handler {
	return s.enrolling(func(w http.ResponseWriter, r *http.Request) {
		if !s.accounts.Recent(reqOf(r).visit) {
			http.Redirect(w, r, "/account/security/reauth", http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}
