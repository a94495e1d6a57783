// Package portal is the client portal's domain (SPEC §14): clients, their
// documents, document requests and the conversation between a client and
// the business, and who may see what. It knows nothing of HTTP or SQL:
// stores implement Store, and the web package turns requests into calls.
//
// Authorization is decided here, from the signed-in visit: staff see every
// client of their workspace, a client user only their own client. Anything
// outside the caller's reach is gatehouse.ErrNotFound, the same answer as
// for a row that does not exist, so IDs reveal nothing.
package portal

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse"
)

// Errors of the portal, beside gatehouse.ErrNotFound and ErrInvalid.
var (
	// ErrForbidden reports an action the caller's role may not take on
	// something they can see (a client deleting a document, a member
	// creating a client).
	ErrForbidden = errors.New("not allowed")
	// ErrTampered reports a stored document whose chunks do not open: they
	// were altered, swapped, reordered or cut. The download must fail.
	ErrTampered = errors.New("document contents fail authentication")
	// ErrTooLarge reports an upload over the size limit.
	ErrTooLarge = errors.New("file too large")
	// ErrReauth reports a sensitive document asked for by a viewer who has
	// not proved a second factor (or the password) recently.
	ErrReauth = errors.New("a sensitive document needs a fresh second factor")
)

// MaxMessageRunes is the longest message (SPEC §14).
const MaxMessageRunes = 10_000

// Client is a client account of a workspace: a company, a household, a
// patient, a contractor firm. Client users belong to exactly one.
type Client struct {
	ID          int64
	WorkspaceID int64
	Name        string
	CreatedAt   time.Time
}

// ClientSummary is a client with its counts, for the staff's list.
type ClientSummary struct {
	Client
	Users        int
	Documents    int
	OpenRequests int
	// Unread counts the messages the asking user has not read.
	Unread int
}

// Document is a file in a client's space. Its contents are stored apart,
// in sealed chunks (see Upload and Reader).
type Document struct {
	ID          int64
	WorkspaceID int64
	ClientID    int64
	Title       string
	Note        string
	FileName    string
	// ContentType is the sniffed type; downloads serve it only when it is
	// on the inert allow-list (see ServedType).
	ContentType string
	Size        int64
	SHA256      []byte
	Sensitive   bool
	UploaderID  int64
	// UploaderName is filled by list queries for display.
	UploaderName string
	// RequestID is the request this document fulfilled, or 0.
	RequestID int64
	CreatedAt time.Time
	// SealedKey is the document's data key sealed by the server key,
	// bound to the workspace and document (DocumentKeyAAD).
	SealedKey []byte
	// Chunks is how many chunks hold the contents; the last one is sealed
	// as final, so a cut-off document fails to open.
	Chunks int
}

// RequestStatus is the state of a document request.
type RequestStatus string

// The request states.
const (
	RequestOpen      RequestStatus = "open"
	RequestFulfilled RequestStatus = "fulfilled"
	RequestCancelled RequestStatus = "cancelled"
)

// Request is staff asking a client for a document.
type Request struct {
	ID          int64
	WorkspaceID int64
	ClientID    int64
	Title       string
	Note        string
	// Due is the day it is due (midnight UTC), or zero for none.
	Due       time.Time
	Status    RequestStatus
	CreatedBy int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Overdue reports whether the request is open past the end of its due day.
func (r Request) Overdue(now time.Time) bool {
	return r.Status == RequestOpen && !r.Due.IsZero() && !now.Before(r.Due.AddDate(0, 0, 1))
}

// Message is one message in a client's conversation.
type Message struct {
	ID          int64
	WorkspaceID int64
	ClientID    int64
	AuthorID    int64
	AuthorName  string // filled by list queries
	AuthorStaff bool   // filled by list queries
	Body        string
	CreatedAt   time.Time
}

// Viewer is who asks, as the portal sees them: decided from the signed-in
// visit, never from anything the request carries.
type Viewer struct {
	WorkspaceID int64
	UserID      int64
	Name        string
	Role        gatehouse.Role
	// ClientID is the client a client user belongs to (0 for staff, and for
	// a client user not yet given one).
	ClientID int64
}

// ViewerOf returns the viewer of a signed-in visit.
func ViewerOf(v *gatehouse.Visit) Viewer {
	name := v.User.Name
	if name == "" {
		name = v.User.Email
	}
	return Viewer{WorkspaceID: v.Workspace.ID, UserID: v.User.ID, Name: name, Role: v.User.Role, ClientID: v.User.ClientID}
}

// Staff reports whether the viewer works for the business.
func (v Viewer) Staff() bool { return v.Role.IsStaff() }

// Sees reports whether the viewer may see the client's space: staff see
// every client of their workspace, a client user only their own.
func (v Viewer) Sees(clientID int64) bool {
	if clientID == 0 {
		return false
	}
	return v.Staff() || v.ClientID == clientID
}

// CanManageClients reports whether the viewer may create clients.
func (v Viewer) CanManageClients() bool { return v.Role.CanManageUsers() }

// ValidateClientName trims and checks a client's name.
func ValidateClientName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 200 {
		return "", fmt.Errorf("%w: a client's name must be 1-200 characters", gatehouse.ErrInvalid)
	}
	return name, nil
}

// ValidateMessage checks a message body: not blank, at most
// MaxMessageRunes characters. Line breaks are kept as typed (CRLF as LF).
func ValidateMessage(body string) (string, error) {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	if strings.TrimSpace(body) == "" {
		return "", fmt.Errorf("%w: write a message first", gatehouse.ErrInvalid)
	}
	if !utf8.ValidString(body) {
		return "", fmt.Errorf("%w: the message is not valid text", gatehouse.ErrInvalid)
	}
	if utf8.RuneCountInString(body) > MaxMessageRunes {
		return "", fmt.Errorf("%w: a message may hold at most 10,000 characters", gatehouse.ErrInvalid)
	}
	return body, nil
}

// ParseDue reads a due date in the form YYYY-MM-DD; "" is no due date.
func ParseDue(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: the due date must look like 2039-06-30", gatehouse.ErrInvalid)
	}
	return t, nil
}

// inertTypes are the content types a download may carry: none of them is
// run or rendered as active content by a browser. Anything else is served
// as application/octet-stream, so an uploaded HTML or SVG file can never
// run script on the workspace's origin.
var inertTypes = map[string]bool{
	"application/pdf": true,
	"image/png":       true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"text/plain": true, "text/csv": true,
	"application/msword":       true,
	"application/vnd.ms-excel": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   true,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         true,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": true,
	"application/vnd.oasis.opendocument.text":                                   true,
	"application/vnd.oasis.opendocument.spreadsheet":                            true,
}

// officeByExt names the office formats, which sniff as ZIP (or OLE) files.
var officeByExt = map[string]string{
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".doc":  "application/msword",
	".xls":  "application/vnd.ms-excel",
}

// activeExt are extensions of formats that can carry script.
var activeExt = map[string]bool{".html": true, ".htm": true, ".xhtml": true, ".svg": true, ".svgz": true, ".xml": true,
	".js": true, ".mjs": true, ".xsl": true, ".xslt": true, ".shtml": true}

// DetectType refines a sniffed content type (as net/http's sniffer names
// it) with the file name where sniffing cannot tell: office files sniff as
// ZIP or OLE containers, CSV as plain text. The name never turns a type
// into something the bytes do not support.
func DetectType(sniffed, fileName string) string {
	base, _, _ := strings.Cut(sniffed, ";")
	base = strings.TrimSpace(strings.ToLower(base))
	ext := strings.ToLower(fileName)
	if i := strings.LastIndexByte(ext, '.'); i >= 0 {
		ext = ext[i:]
	} else {
		ext = ""
	}
	switch {
	case activeExt[ext]:
		// A name a browser would render as a page or an image with
		// script is never given a text type, whatever the bytes.
		return "application/octet-stream"
	case base == "text/plain" && ext == ".csv":
		return "text/csv"
	case (base == "application/zip" || base == "application/octet-stream") && officeByExt[ext] != "":
		return officeByExt[ext]
	}
	return base
}

// ServedType is the Content-Type a download carries: the stored type when
// it is inert, else application/octet-stream.
func ServedType(stored string) string {
	if inertTypes[stored] {
		if strings.HasPrefix(stored, "text/") {
			return stored + "; charset=utf-8"
		}
		return stored
	}
	return "application/octet-stream"
}

// SafeFileName turns an uploaded file's name into one safe to store and
// to offer back: no directories, no control characters, not empty, at
// most 200 characters.
func SafeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(strings.Trim(name, ". "))
	if r := []rune(name); len(r) > 200 {
		name = string(r[len(r)-200:])
	}
	if name == "" {
		name = "document"
	}
	return name
}
