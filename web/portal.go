package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// portalRoutes wires the client portal (SPEC §13, §14).
func (s *Server) portalRoutes(ws *http.ServeMux) {
	ws.Handle("GET /portal/documents", s.signedIn(s.handlePortalDocuments))
	ws.Handle("POST /portal/documents", s.signedIn(s.handlePortalUpload))
	ws.Handle("GET /portal/messages", s.signedIn(s.handlePortalMessages))
	ws.Handle("POST /portal/messages", s.signedIn(s.handlePortalPost))

	ws.Handle("GET /dashboard/clients", s.staffOnly(s.handleClients))
	ws.Handle("POST /dashboard/clients", s.staffOnly(s.handleCreateClient))
	ws.Handle("GET /dashboard/clients/{id}", s.staffOnly(s.handleClient))
	ws.Handle("POST /dashboard/clients/{id}/documents", s.staffOnly(s.handleStaffUpload))
	ws.Handle("POST /dashboard/clients/{id}/requests", s.staffOnly(s.handleAsk))
	ws.Handle("POST /dashboard/clients/{id}/messages", s.staffOnly(s.handleStaffPost))
	ws.Handle("POST /dashboard/requests/{id}/reopen", s.staffOnly(s.handleRequestStatus(portal.RequestOpen)))
	ws.Handle("POST /dashboard/requests/{id}/cancel", s.staffOnly(s.handleRequestStatus(portal.RequestCancelled)))

	ws.Handle("GET /documents/{id}", s.signedIn(s.handleDownload))
	ws.Handle("GET /documents/{id}/delete", s.staffOnly(s.handleDeletePage))
	ws.Handle("POST /documents/{id}/delete", s.signedIn(s.handleDeleteDocument))
	ws.Handle("GET /api/v1/documents", s.apiSignedIn(s.handleAPIDocuments))
	ws.Handle("POST /account/security/notifications", s.signedIn(s.handleNotifications))
}

// handleNotifications turns the user's portal e-mails on (portal_mail=on)
// or off.
func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	on := r.PostForm.Get("portal_mail") == "on"
	if err := s.portal.SetNotifications(r.Context(), portal.ViewerOf(reqOf(r).visit), on); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account/security?done=notifications", http.StatusSeeOther)
}

// clientHome returns a client user's viewer with their client, made on
// first use for one without (a self sign-up). Staff have no client space
// of their own: ErrForbidden.
func (s *Server) clientHome(r *http.Request) (portal.Viewer, *portal.Client, error) {
	rq := reqOf(r)
	v := portal.ViewerOf(rq.visit)
	c, err := s.portal.Home(r.Context(), &v, &rq.visit.User)
	return v, c, err
}

// documentRow is a document as pages list it.
type documentRow struct {
	ID                       int64
	Title, FileName, Note    string
	Size, Uploaded, Uploader string
	Sensitive                bool
	Type                     string
}

const dayFormat = "2 Jan 2006"
const timeFormat = "2 Jan 2006 15:04"

// formatDay returns t.Format(dayFormat), and formatDayTime
// t.Format(timeFormat), without interpreting the layout each time: every
// row a space shows runs one. Years Format would pad or sign (outside
// 1000–9999) go to Format. TestDayFormatsMatchLayout holds them to it.
func formatDay(t time.Time) string {
	y, m, d := t.Date()
	if y < 1000 || y > 9999 {
		return t.Format(dayFormat)
	}
	var a [24]byte
	return string(appendDay(a[:0], y, m, d))
}

func formatDayTime(t time.Time) string {
	y, m, d := t.Date()
	if y < 1000 || y > 9999 {
		return t.Format(timeFormat)
	}
	var a [24]byte
	b := appendDay(a[:0], y, m, d)
	h, min, _ := t.Clock()
	return string(append(b, ' ', byte('0'+h/10), byte('0'+h%10), ':', byte('0'+min/10), byte('0'+min%10)))
}

func appendDay(b []byte, y int, m time.Month, d int) []byte {
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append(b, m.String()[:3]...)
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(y), 10)
}

func documentRows(ds []portal.Document) []documentRow {
	out := make([]documentRow, len(ds))
	for i, d := range ds {
		out[i] = documentRow{ID: d.ID, Title: d.Title, FileName: d.FileName, Note: d.Note, Size: humanSize(d.Size),
			Uploaded: formatDayTime(d.CreatedAt), Uploader: d.UploaderName, Sensitive: d.Sensitive, Type: typeLabel(d.ContentType)}
	}
	return out
}

// typeLabel names a content type for people.
func typeLabel(ct string) string {
	switch {
	case ct == "application/pdf":
		return "PDF"
	case ct == "text/csv":
		return "CSV"
	case ct == "text/plain":
		return "Text"
	case strings.HasPrefix(ct, "image/"):
		return "Image"
	case strings.Contains(ct, "word") || strings.Contains(ct, "opendocument.text"):
		return "Document"
	case strings.Contains(ct, "sheet") || strings.Contains(ct, "excel"):
		return "Spreadsheet"
	case strings.Contains(ct, "presentation"):
		return "Slides"
	}
	return "File"
}

// requestRow is a document request as pages list it.
type requestRow struct {
	ID           int64
	Title, Note  string
	Due          string
	Status       string
	Open         bool
	Overdue      bool
	CanReopen    bool
	StatusLabel  string
	CreatedLabel string
}

func requestRows(rs []portal.Request, now time.Time) []requestRow {
	out := make([]requestRow, len(rs))
	for i, r := range rs {
		row := requestRow{ID: r.ID, Title: r.Title, Note: r.Note, Status: string(r.Status), Open: r.Status == portal.RequestOpen,
			Overdue: r.Overdue(now), CanReopen: r.Status != portal.RequestOpen, CreatedLabel: formatDay(r.CreatedAt)}
		if !r.Due.IsZero() {
			row.Due = formatDay(r.Due)
		}
		switch {
		case row.Overdue:
			row.StatusLabel = "Overdue"
		case r.Status == portal.RequestOpen:
			row.StatusLabel = "Open"
		case r.Status == portal.RequestFulfilled:
			row.StatusLabel = "Received"
		case r.Status == portal.RequestCancelled:
			row.StatusLabel = "Cancelled"
		}
		out[i] = row
	}
	return out
}

// messageRow is a message as pages show it. Body is plain text: the
// template escapes it and CSS keeps its line breaks.
type messageRow struct {
	Author string
	Staff  bool
	Mine   bool
	Body   string
	At     string
	Unread bool
}

func messageRows(ms []portal.Message, me, lastRead int64) []messageRow {
	out := make([]messageRow, len(ms))
	for i, m := range ms {
		out[i] = messageRow{Author: m.AuthorName, Staff: m.AuthorStaff, Mine: m.AuthorID == me, Body: m.Body,
			At: formatDayTime(m.CreatedAt), Unread: m.ID > lastRead && m.AuthorID != me}
	}
	return out
}

// space is one client's space as a page shows it.
type space struct {
	Client    *portal.Client
	Documents []documentRow
	Requests  []requestRow
	Open      []requestRow // the open requests, for the upload form
	Messages  []messageRow
	Unread    int
	MaxUpload string
}

// loadSpace reads what a client's space page shows. docs and messages
// limit the documents and the conversation (0: all, -1: none); the
// messages shown are marked read for the viewer.
func (s *Server) loadSpace(ctx context.Context, v portal.Viewer, clientID int64, docs, messages int) (*space, error) {
	ps, err := s.portal.Space(ctx, v, clientID, docs, messages)
	if err != nil {
		return nil, err
	}
	return s.spaceOf(ps, v, docs, messages), nil
}

// homeSpace reads the space of the signed-in client user's own client (see
// loadSpace), made on first use; staff have none.
func (s *Server) homeSpace(r *http.Request, docs, messages int) (*space, error) {
	rq := reqOf(r)
	v := portal.ViewerOf(rq.visit)
	ps, err := s.portal.HomeSpace(r.Context(), &v, &rq.visit.User, docs, messages)
	if err != nil {
		return nil, err
	}
	return s.spaceOf(ps, v, docs, messages), nil
}

func (s *Server) spaceOf(ps *portal.Space, v portal.Viewer, docs, messages int) *space {
	sp := &space{Client: &ps.Client, Requests: requestRows(ps.Requests, s.accounts.Now()), MaxUpload: humanSize(s.maxUpload)}
	if docs >= 0 {
		sp.Documents = documentRows(ps.Documents)
	}
	if messages >= 0 {
		sp.Messages = messageRows(ps.Messages, v.UserID, ps.LastRead)
	}
	for _, r := range sp.Requests {
		if r.Open {
			sp.Open = append(sp.Open, r)
		}
	}
	for _, m := range sp.Messages {
		if m.Unread {
			sp.Unread++
		}
	}
	return sp
}

type portalPage struct {
	page
	*space
	TwoStep twoStepCard
}

// twoStepCard is the portal home's card about the user's 2-step status.
type twoStepCard struct {
	On      bool
	Invite  bool // optional mode: invite the user to turn it on
	Methods string
}

func (s *Server) twoStep(v *gatehouse.Visit) twoStepCard {
	c := twoStepCard{On: len(v.Methods) > 0}
	var names []string
	for _, m := range v.Methods {
		names = append(names, methodWords(m))
	}
	c.Methods = strings.Join(names, ", ")
	c.Invite = !c.On && v.Workspace.Plan.HasMFA() && v.Workspace.MFA.Mode == gatehouse.MFAOptional
	return c
}

func methodWords(m gatehouse.Method) string {
	switch m {
	case gatehouse.MethodTOTP:
		return "authenticator app"
	case gatehouse.MethodSMS:
		return "text message"
	case gatehouse.MethodEmail:
		return "e-mail code"
	}
	return strings.ReplaceAll(string(m), "_", " ")
}

// handlePortal is the client's home: open requests first, recent
// documents, the latest messages and the 2-step card. Staff are sent to
// their list of clients.
func (s *Server) handlePortal(w http.ResponseWriter, r *http.Request) {
	if reqOf(r).visit.User.Role.IsStaff() {
		http.Redirect(w, r, "/dashboard/clients", http.StatusSeeOther)
		return
	}
	sp, err := s.homeSpace(r, portal.HomeDocuments, portal.HomeMessages)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	// Written by writePortalHome, which matches the "portal" template
	// byte for byte without its reflection (see portalhome.go).
	s.renderPortalHome(w, http.StatusOK, &portalPage{page: s.page(r, "Your portal"), space: sp, TwoStep: s.twoStep(reqOf(r).visit)})
}

func (s *Server) handlePortalDocuments(w http.ResponseWriter, r *http.Request) {
	if reqOf(r).visit.User.Role.IsStaff() {
		http.Redirect(w, r, "/dashboard/clients", http.StatusSeeOther)
		return
	}
	sp, err := s.homeSpace(r, 0, -1)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	p := portalPage{page: s.page(r, "Documents"), space: sp}
	if n := r.URL.Query().Get("uploaded"); n != "" {
		p.Flash = uploadedFlash(n)
	}
	s.render(w, r, http.StatusOK, "portaldocs", p)
}

func uploadedFlash(n string) string {
	if n == "1" {
		return "Your file was uploaded."
	}
	return "Your files were uploaded."
}

type messagesPage struct {
	page
	*space
	Error string
	Body  string
	Post  string // where the form posts
}

func (s *Server) handlePortalMessages(w http.ResponseWriter, r *http.Request) {
	s.showPortalMessages(w, r, http.StatusOK, "", "")
}

func (s *Server) showPortalMessages(w http.ResponseWriter, r *http.Request, status int, msg, body string) {
	if reqOf(r).visit.User.Role.IsStaff() {
		http.Redirect(w, r, "/dashboard/clients", http.StatusSeeOther)
		return
	}
	sp, err := s.homeSpace(r, -1, 0)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	s.render(w, r, status, "messages", messagesPage{page: s.page(r, "Messages"), space: sp, Error: msg, Body: body, Post: "/portal/messages"})
}

func (s *Server) handlePortalPost(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	v, c, err := s.clientHome(r)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	body := r.PostForm.Get("body")
	_, err = s.portal.Post(r.Context(), v, reqOf(r).ws, c.ID, body, clientIP(r))
	if errors.Is(err, gatehouse.ErrInvalid) {
		s.showPortalMessages(w, r, http.StatusUnprocessableEntity, sentenceOf(err), body)
		return
	}
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/portal/messages#latest", http.StatusSeeOther)
}

// clientURL is a client's space in the dashboard.
func clientURL(id int64) string { return fmt.Sprintf("/dashboard/clients/%d", id) }

// uploadFormData is what the "uploadform" template needs.
type uploadFormData struct {
	Action   string
	Requests []requestRow
	Staff    bool
	Max      string
}

func newUploadFormData(action string, reqs []requestRow, staff bool, max string) uploadFormData {
	return uploadFormData{Action: action, Requests: reqs, Staff: staff, Max: max}
}
