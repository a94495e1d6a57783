package web

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// DefaultMaxUploadBytes is GATEHOUSE_MAX_UPLOAD_MB's default, 25 MiB.
const DefaultMaxUploadBytes = 25 << 20

// uploadSlack is what an upload form may carry beside its files: the text
// fields and the multipart framing.
const uploadSlack = 1 << 20

// minUploadRate is the slowest link an upload is given time for: a 25 MB
// file over 1 Mbit/s (125 kB/s) takes under 4 minutes; at 32 kB/s the
// deadline leaves four times that.
const minUploadRate = 32 << 10

func (s *Server) uploadBodyLimit() int64 { return s.maxUpload + uploadSlack }

// isUpload reports whether r is one of the two upload routes, the only
// ones whose bodies may pass MaxBodyBytes.
func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	p := r.URL.Path
	if p == "/portal/documents" {
		return true
	}
	rest, ok := strings.CutPrefix(p, "/dashboard/clients/")
	if !ok {
		return false
	}
	id, ok := strings.CutSuffix(rest, "/documents")
	return ok && id != "" && !strings.Contains(id, "/")
}

// tooLarge is the 413 page of an upload over the limit.
func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("That file is larger than the %s limit, so nothing was uploaded. Please send a smaller file.", humanSize(s.maxUpload)))
}

// extendDeadlines gives an upload time to arrive over a slow link: the
// server's read timeout (30 s) would cut a 25 MB file on a 1 Mbit/s line.
// Headers were read under the short ReadHeaderTimeout already, and every
// other route keeps the short timeouts.
func (s *Server) extendDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	d := time.Minute + time.Duration(s.uploadBodyLimit()/minUploadRate)*time.Second
	// The deadlines are real time on the connection, not a date a page
	// shows: the injected clock does not govern them.
	until := time.Now().Add(d)
	if err := rc.SetReadDeadline(until); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("extend read deadline", "err", err)
	}
	if err := rc.SetWriteDeadline(until.Add(time.Minute)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("extend write deadline", "err", err)
	}
}

// uploadForm is what an upload form said, beside its files.
type uploadForm struct {
	title, note string
	sensitive   bool
	request     int64
}

// receiveUpload streams a multipart upload into the client's space: each
// file part goes through a sealing chunk writer into the store as it
// arrives, so memory stays at a chunk or two whatever the size. The form
// is committed whole at the end; on any failure (too large, cut off,
// refused) every file begun is discarded.
func (s *Server) receiveUpload(w http.ResponseWriter, r *http.Request, v portal.Viewer, clientID int64) ([]*portal.Document, error) {
	s.extendDeadlines(w)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errBadForm
	}
	var (
		ups  []*portal.Upload
		form uploadForm
		ok   bool
	)
	defer func() {
		if !ok {
			for _, u := range ups {
				u.Abort()
			}
		}
	}()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bodyError(err)
		}
		name := part.FormName()
		if name == "file" {
			if part.FileName() == "" {
				part.Close() // an empty file input
				continue
			}
			up, err := s.portal.BeginUpload(r.Context(), v, clientID, part.FileName())
			if err != nil {
				part.Close()
				return nil, err
			}
			ups = append(ups, up)
			if _, err := io.Copy(up, part); err != nil {
				part.Close()
				return nil, bodyError(err)
			}
			part.Close()
			if err := up.Close(); err != nil {
				return nil, err
			}
			continue
		}
		// Text fields are small: read at most 16 KiB of each.
		b, err := io.ReadAll(io.LimitReader(part, 16<<10))
		part.Close()
		if err != nil {
			return nil, bodyError(err)
		}
		val := string(b)
		switch name {
		case "title":
			form.title = val
		case "note":
			form.note = val
		case "sensitive":
			form.sensitive = val == "on"
		case "request":
			if val != "" {
				if form.request, err = strconv.ParseInt(val, 10, 64); err != nil || form.request <= 0 {
					return nil, fmt.Errorf("%w: unknown request", gatehouse.ErrInvalid)
				}
			}
		}
	}
	if len(ups) == 0 {
		return nil, fmt.Errorf("%w: choose at least one file", gatehouse.ErrInvalid)
	}
	docs, err := s.portal.Finish(r.Context(), v, reqOf(r).ws, ups, portal.UploadMeta{
		Title: form.title, Note: form.note, Sensitive: form.sensitive, RequestID: form.request, IP: clientIP(r),
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return docs, nil
}

var errBadForm = errors.New("malformed upload form")

// bodyError names why reading an upload failed: over the limit, or cut off.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, portal.ErrTooLarge) {
		return portal.ErrTooLarge
	}
	return fmt.Errorf("%w: %w", errBadForm, err)
}

// uploadFailed answers a failed upload with one sentence.
func (s *Server) uploadFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, portal.ErrTooLarge):
		w.Header().Set("Connection", "close")
		s.tooLarge(w, r)
	case errors.Is(err, errBadForm):
		s.log.Info("upload cut off or malformed", "path", r.URL.Path, "err", err)
		s.renderError(w, r, http.StatusBadRequest, "The upload did not arrive complete, so nothing was kept. Please try again.")
	default:
		s.portalError(w, r, err)
	}
}

// portalError maps the portal's errors to a status and one sentence.
func (s *Server) portalError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, gatehouse.ErrNotFound):
		s.renderError(w, r, http.StatusNotFound, "There is no page at this address.")
	case errors.Is(err, portal.ErrForbidden):
		s.renderError(w, r, http.StatusForbidden, "You are not allowed to do that.")
	case errors.Is(err, gatehouse.ErrInvalid):
		s.renderError(w, r, http.StatusUnprocessableEntity, sentenceOf(err))
	default:
		s.serverError(w, r, err)
	}
}

// sentenceOf returns the human part of an ErrInvalid error: what follows
// "invalid input: ", with a capital letter and a full stop.
func sentenceOf(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, gatehouse.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(gatehouse.ErrInvalid.Error())+2:]
	}
	if msg == "" {
		return "Please check the form."
	}
	rs := []rune(msg)
	rs[0] = unicode.ToUpper(rs[0])
	msg = string(rs)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

func (s *Server) handleStaffUpload(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	docs, err := s.receiveUpload(w, r, portal.ViewerOf(reqOf(r).visit), id)
	if err != nil {
		s.uploadFailed(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/dashboard/clients/%d?uploaded=%d", id, len(docs)), http.StatusSeeOther)
}

func (s *Server) handlePortalUpload(w http.ResponseWriter, r *http.Request) {
	v, _, err := s.clientHome(r)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	docs, err := s.receiveUpload(w, r, v, v.ClientID)
	if err != nil {
		s.uploadFailed(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/portal/documents?uploaded=%d", len(docs)), http.StatusSeeOther)
}

// handleDownload serves a document as an attachment. Anyone outside its
// client and the staff gets the same 404 as for a document that does not
// exist. A sensitive document first asks for a fresh second factor (or the
// password, for a user without one), whatever the session's age or device.
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	rq := reqOf(r)
	v := portal.ViewerOf(rq.visit)
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	rd, err := s.portal.OpenDocument(r.Context(), v, id, s.accounts.Recent(rq.visit), clientIP(r))
	switch {
	case errors.Is(err, portal.ErrReauth):
		http.Redirect(w, r, "/account/security/reauth?next="+fmt.Sprintf("/documents/%d", id), http.StatusSeeOther)
		return
	case errors.Is(err, portal.ErrTampered):
		s.tampered(w, r, id, err)
		return
	case err != nil:
		s.portalError(w, r, err)
		return
	}
	defer rd.Close()
	d := rd.Document()
	h := w.Header()
	h.Set("Content-Type", portal.ServedType(d.ContentType))
	h.Set("Content-Disposition", contentDisposition(d.FileName))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", `"`+hex.EncodeToString(d.SHA256)+`"`)
	if wholeGET(r) {
		// The common case, a plain GET of the whole file, writes each
		// opened batch (up to 2 MiB) in one call; http.ServeContent would
		// copy it through a 32 KiB buffer, a write per 32 KiB.
		h.Set("Accept-Ranges", "bytes")
		h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
		w.WriteHeader(http.StatusOK)
		rd.WriteTo(w) // a failed chunk is in rd.Err(); a gone client needs nothing
	} else {
		http.ServeContent(w, r, "", time.Time{}, rd)
	}
	if rd.Err() != nil {
		// The headers are out, so the answer cannot become an error page:
		// abort the connection, so the browser reports a failed download
		// instead of saving a short file.
		s.log.Error("document failed mid-download", "document", d.ID, "err", rd.Err())
		panic(http.ErrAbortHandler)
	}
}

// wholeGET reports whether r asks for the whole body with no condition:
// Range, HEAD and conditional requests (If-None-Match against the ETag,
// If-Range, ...) are left to http.ServeContent.
func wholeGET(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	for _, h := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if r.Header.Get(h) != "" {
			return false
		}
	}
	return true
}

// tampered answers a document whose contents fail authentication: loudly,
// in the log, and never with its bytes.
func (s *Server) tampered(w http.ResponseWriter, r *http.Request, id int64, err error) {
	s.log.Error("document contents fail authentication", "document", id, "err", err)
	s.renderError(w, r, http.StatusInternalServerError,
		"This document cannot be opened: its stored contents fail their integrity check. The staff have been told in the server log.")
}

// contentDisposition is an attachment header with a safe file name (RFC
// 6266): a plain ASCII fallback with no quote, backslash or control
// character, and, when the name needed changing, the full name in RFC 5987
// encoding, which current browsers prefer.
func contentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' || r == '%' || r == ';' {
			return '_'
		}
		return r
	}, name)
	if fallback == "" {
		fallback = "document"
	}
	h := `attachment; filename="` + fallback + `"`
	if fallback != name {
		var b strings.Builder
		for _, c := range []byte(name) {
			if isAttrChar(c) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		h += "; filename*=UTF-8''" + b.String()
	}
	return h
}

// isAttrChar reports whether c may stand unencoded in an RFC 5987 value.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

type deletePage struct {
	page
	Document documentRow
	ClientID int64
}

// handleDeletePage asks staff to confirm a deletion: it cannot be undone
// (the audit log keeps the record).
func (s *Server) handleDeletePage(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	d, err := s.portal.Document(r.Context(), portal.ViewerOf(reqOf(r).visit), id)
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "deletedoc", deletePage{page: s.page(r, "Delete a document"),
		Document: documentRows([]portal.Document{*d})[0], ClientID: d.ClientID})
}

func (s *Server) handleDeleteDocument(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.handleNotFound(w, r)
		return
	}
	d, err := s.portal.Delete(r.Context(), portal.ViewerOf(reqOf(r).visit), id, clientIP(r))
	if err != nil {
		s.portalError(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/dashboard/clients/%d?deleted=1", d.ClientID), http.StatusSeeOther)
}

// apiDocument is one document in GET /api/v1/documents.
type apiDocument struct {
	ID          int64  `json:"id"`
	ClientID    int64  `json:"client_id"`
	Title       string `json:"title"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Sensitive   bool   `json:"sensitive"`
	CreatedAt   string `json:"created_at"`
	URL         string `json:"url"`
}

func (s *Server) handleAPIDocuments(w http.ResponseWriter, r *http.Request) {
	docs, err := s.portal.Downloadable(r.Context(), portal.ViewerOf(reqOf(r).visit))
	if err != nil {
		s.log.Error("api documents", "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal"})
		return
	}
	out := struct {
		Documents []apiDocument `json:"documents"`
	}{Documents: []apiDocument{}}
	for _, d := range docs {
		out.Documents = append(out.Documents, apiDocument{
			ID: d.ID, ClientID: d.ClientID, Title: d.Title, FileName: d.FileName, ContentType: portal.ServedType(d.ContentType),
			Size: d.Size, SHA256: hex.EncodeToString(d.SHA256), Sensitive: d.Sensitive,
			CreatedAt: d.CreatedAt.Format(time.RFC3339), URL: fmt.Sprintf("/documents/%d", d.ID),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// humanSize writes a byte count for people: "512 bytes", "64 KB",
// "3 MB", "2.5 MB". With strconv rather than fmt (which works through
// reflection), since every document row shown runs it;
// TestHumanSizeMatchesFmt holds it to the fmt wording.
func humanSize(n int64) string {
	var a [32]byte
	var b []byte
	switch {
	case n >= 1<<20:
		v := float64(n) / (1 << 20)
		if v == float64(int64(v)) {
			b = strconv.AppendInt(a[:0], int64(v), 10)
		} else {
			b = strconv.AppendFloat(a[:0], v, 'f', 1, 64)
		}
		b = append(b, " MB"...)
	case n >= 1<<10:
		b = append(strconv.AppendInt(a[:0], (n+512)>>10, 10), " KB"...)
	default:
		b = append(strconv.AppendInt(a[:0], n, 10), " bytes"...)
	}
	return string(b)
}
