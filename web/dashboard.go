package web

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/mfa"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// dashboardPage is the staff's home (SPEC §14): clients with their counts,
// recent portal activity and the 2-step coverage summary.
type dashboardPage struct {
	page
	Clients  []portal.ClientSummary
	Activity []activityRow
	Coverage *mfa.RoleCoverage // nil for members, who do not see coverage
	Unread   int
}

// activityRow is one recent portal event in words.
type activityRow struct {
	At, Who, What, Client string
	ClientID              int64
}

var activityWords = map[string]string{
	portal.EventUpload:           "uploaded a document",
	portal.EventDownload:         "downloaded a document",
	portal.EventDelete:           "deleted a document",
	portal.EventRequestCreated:   "asked for a document",
	portal.EventRequestFulfilled: "fulfilled a request",
	portal.EventRequestReopened:  "reopened a request",
	portal.EventRequestCancelled: "cancelled a request",
	portal.EventMessage:          "sent a message",
	portal.EventClientCreated:    "created the client",
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	v := portal.ViewerOf(rq.visit)
	clients, err := s.portal.Clients(r.Context(), v)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	events, err := s.store.FindAuditEvents(r.Context(), rq.ws.ID, gatehouse.AuditFilter{Type: "portal.", Limit: 10})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	names, err := s.userNames(r)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := dashboardPage{page: s.page(r, "Dashboard"), Clients: clients}
	byID := map[int64]string{}
	for _, c := range clients {
		byID[c.ID] = c.Name
		p.Unread += c.Unread
	}
	for _, e := range events {
		what, ok := activityWords[e.Type]
		if !ok {
			what = strings.TrimPrefix(e.Type, "portal.")
		}
		p.Activity = append(p.Activity, activityRow{At: e.At.Format(timeFormat), Who: names[e.ActorID], What: what,
			Client: byID[e.ClientID], ClientID: e.ClientID})
	}
	if v.Role.CanManageUsers() {
		cov, _, _, err := s.mfa.CoverageFor(r.Context(), rq.ws)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		p.Coverage = &cov.Total
	}
	s.render(w, r, http.StatusOK, "dashboard", p)
}
