package portal

import (
	"context"
)

// Space is one client's space as its pages show it, read for one user: the
// client, its requests (open first), its latest documents (newest first)
// and messages (oldest first), and the user's read mark. A store may serve
// it from memory, the same Space to every read of it (see
// Store.ReadSpace), so nobody changes a Space once read, and it holds
// nothing a page does not show: documents carry their ID, workspace, client, title, note,
// type, size, sensitivity, uploader's name and time, and nothing else (no
// file name, SHA-256, sealed key, chunk count, uploader ID or request).
type Space struct {
	Client    Client
	Requests  []Request
	Documents []Document
	Messages  []Message
	// LastRead is the ID of the last message the user had read.
	LastRead int64
}

// Size is a rough count of the bytes sp holds, for a store that bounds
// the memory its copies take.
func (sp *Space) Size() int {
	const row = 160 // a row's fixed fields and slice header, about
	n := 2*row + len(sp.Client.Name)
	for _, r := range sp.Requests {
		n += row + len(r.Title) + len(r.Note) + len(r.Status)
	}
	for _, d := range sp.Documents {
		n += 2*row + len(d.Title) + len(d.Note) + len(d.FileName) + len(d.ContentType) + len(d.UploaderName)
	}
	for _, m := range sp.Messages {
		n += row + len(m.AuthorName) + len(m.Body)
	}
	return n
}

// The portal home shows the latest HomeDocuments documents and
// HomeMessages messages; a store may keep those ready (SQLite does).
const (
	HomeDocuments = 5
	HomeMessages  = 3
)

// SpaceLister is what ReadSpaceFrom reads a space with.
type SpaceLister interface {
	FindClient(ctx context.Context, workspaceID, id int64) (*Client, error)
	ListRequests(ctx context.Context, workspaceID, clientID int64) ([]Request, error)
	ListSpaceDocuments(ctx context.Context, workspaceID, clientID int64, limit int) ([]Document, error)
	ListClientMessages(ctx context.Context, workspaceID, clientID int64, limit int) ([]Message, error)
	LastReadMessage(ctx context.Context, workspaceID, userID, clientID int64) (int64, error)
}

// ReadSpaceFrom reads a space from the database with the store's list
// methods, as Store.ReadSpace describes; stores call it when they do not
// serve the space from memory.
func ReadSpaceFrom(ctx context.Context, s SpaceLister, workspaceID, clientID, userID int64, documents, messages int) (*Space, error) {
	c, err := s.FindClient(ctx, workspaceID, clientID)
	if err != nil {
		return nil, err
	}
	sp := &Space{Client: *c}
	if sp.Requests, err = s.ListRequests(ctx, workspaceID, clientID); err != nil {
		return nil, err
	}
	if documents >= 0 {
		if sp.Documents, err = s.ListSpaceDocuments(ctx, workspaceID, clientID, documents); err != nil {
			return nil, err
		}
	}
	if messages >= 0 {
		if sp.Messages, err = s.ListClientMessages(ctx, workspaceID, clientID, messages); err != nil {
			return nil, err
		}
		if sp.LastRead, err = s.LastReadMessage(ctx, workspaceID, userID, clientID); err != nil {
			return nil, err
		}
	}
	return sp, nil
}
