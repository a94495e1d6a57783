package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

type clientsPage struct {
	page
	Clients   []portal.ClientSummary
	CanCreate bool
	Error     string
	Name      string
}

func (s *Server) handleClients(w http.ResponseWriter, r *http.Request) {
	s.showClients(w, r, http.StatusOK, "", "")
}

func (s *Server) showClients(w http.ResponseWriter, r *http.Request, status int, msg, name string) {
	v := portal.ViewerOf(reqOf(r).visit)
	cs, err := s.portal.Clients(r.Context(), v)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	s.render(w, r, status, "clients", clientsPage{page: s.page(r, "Clients"), Clients: cs, CanCreate: v.CanManageClients(), Error: msg, Name: name})
}

func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	name := r.PostForm.Get("name")
	c, err := s.portal.CreateClient(r.Context(), portal.ViewerOf(reqOf(r).visit), name, clientIP(r))
	if errors.Is(err, gatehouse.ErrInvalid) {
		s.showClients(w, r, http.StatusUnprocessableEntity, sentenceOf(err), name)
		return
	}
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	http.Redirect(w, r, clientURL(c.ID), http.StatusSeeOther)
}

// clientPage is a client's space as staff see it.
type clientPage struct {
	page
	*space
	People      []gatehouse.User
	Downloads   map[int64][]downloadRow
	Error       string
	Body        string
	Post        string
	Today       string
	CanManage   bool
	AuditFilter string
}

// downloadRow is one download of a document, for staff.
type downloadRow struct {
	Who, At, IP string
}

func (s *Server) handleClient(w http.ResponseWriter, r *http.Request) {
	s.showClient(w, r, http.StatusOK, "", "")
}

func (s *Server) showClient(w http.ResponseWriter, r *http.Request, status int, msg, body string) {
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	rq := reqOf(r)
	v := portal.ViewerOf(rq.visit)
	c, err := s.portal.Client(r.Context(), v, id)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	sp, err := s.loadSpace(r.Context(), v, c.ID, 0, 50)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	people, err := s.portal.Members(r.Context(), v, c.ID)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	downloads, err := s.downloads(r, c.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := clientPage{page: s.page(r, c.Name), space: sp, People: people, Downloads: downloads, Error: msg, Body: body,
		Post: fmt.Sprintf("/dashboard/clients/%d/messages", c.ID), Today: s.accounts.Now().Format(time.DateOnly),
		CanManage: v.CanManageClients()}
	q := r.URL.Query()
	switch {
	case q.Get("uploaded") != "":
		p.Flash = uploadedFlash(q.Get("uploaded"))
	case q.Get("deleted") != "":
		p.Flash = "The document was deleted."
	case q.Get("asked") != "":
		p.Flash = "The request was sent."
	}
	s.render(w, r, status, "client", p)
}

// downloads returns who downloaded each of the client's documents, from
// the audit log (newest first).
func (s *Server) downloads(r *http.Request, clientID int64) (map[int64][]downloadRow, error) {
	ws := reqOf(r).ws
	users, err := s.store.ListUsers(r.Context(), ws.ID)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, u := range users {
		names[u.ID] = u.Email
	}
	es, err := s.store.FindAuditEvents(r.Context(), ws.ID, gatehouse.AuditFilter{ClientID: clientID, Type: portal.EventDownload, Limit: 500})
	if err != nil {
		return nil, err
	}
	out := map[int64][]downloadRow{}
	for _, e := range es {
		out[e.DocumentID] = append(out[e.DocumentID], downloadRow{Who: names[e.ActorID], At: e.At.Format(timeFormat), IP: e.IP})
	}
	return out, nil
}

func (s *Server) handleAsk(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	rq := reqOf(r)
	_, err := s.portal.Ask(r.Context(), portal.ViewerOf(rq.visit), rq.ws, id,
		r.PostForm.Get("title"), r.PostForm.Get("note"), r.PostForm.Get("due"), clientIP(r))
	if errors.Is(err, gatehouse.ErrInvalid) {
		s.showClient(w, r, http.StatusUnprocessableEntity, sentenceOf(err), "")
		return
	}
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	http.Redirect(w, r, clientURL(id)+"?asked=1", http.StatusSeeOther)
}

func (s *Server) handleRequestStatus(to portal.RequestStatus) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r, "id")
		if !ok {
			s.handleNotFound(w, r)
			return
		}
		req, err := s.portal.SetRequest(r.Context(), portal.ViewerOf(reqOf(r).visit), id, to, clientIP(r))
		if err != nil {
			s.portalError(w, r, err)
			return
		}
		http.Redirect(w, r, clientURL(req.ClientID), http.StatusSeeOther)
	}
}

func (s *Server) handleStaffPost(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	rq := reqOf(r)
	body := r.PostForm.Get("body")
	_, err := s.portal.Post(r.Context(), portal.ViewerOf(rq.visit), rq.ws, id, body, clientIP(r))
	if errors.Is(err, gatehouse.ErrInvalid) {
		s.showClient(w, r, http.StatusUnprocessableEntity, sentenceOf(err), body)
		return
	}
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	http.Redirect(w, r, clientURL(id)+"#latest", http.StatusSeeOther)
}

// inviteClient reads the invitation form's client field (SPEC §13): a
// client's ID, checked before anyone is invited, or empty for a client of
// their own. Only client users take one.
func (s *Server) inviteClient(r *http.Request, role gatehouse.Role) (int64, error) {
	raw := r.PostForm.Get("client")
	if raw == "" {
		return 0, nil
	}
	if role != gatehouse.RoleClient {
		return 0, fmt.Errorf("%w: only client users belong to a client", gatehouse.ErrInvalid)
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err == nil {
		_, err = s.portal.Client(r.Context(), portal.ViewerOf(reqOf(r).visit), id)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: choose one of your clients", gatehouse.ErrInvalid)
	}
	return id, nil
}
