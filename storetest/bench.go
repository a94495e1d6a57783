package storetest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// BenchReadSpace measures reading the portal home's space from the
// database (portal.ReadSpaceFrom, what a store runs when its cache misses:
// five documents and three messages) for a client with no documents and
// messages and for one with 1,000 of each. SPEC §18 asks for the home with
// 1,000 within 1.2 times the empty one; this is the store's part of it.
func BenchReadSpace(b *testing.B, open func(tb testing.TB) PortalStore) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			s := open(b)
			ws := MustCreateWorkspace(b, s, "acme")
			c := MustCreateClient(b, s, ws.ID, "Alpha")
			u := MustCreateUser(b, s, ws.ID, "ann@example.com", gatehouse.RoleClient)
			for i := range n {
				d := &portal.Document{ClientID: c.ID, FileName: fmt.Sprintf("f%d.pdf", i), UploaderID: u.ID, CreatedAt: t0}
				if err := s.CreateDocument(ctx, ws.ID, d); err != nil {
					b.Fatal(err)
				}
				d.Title, d.ContentType, d.Size, d.SealedKey, d.Chunks = d.FileName, "application/pdf", 123456, []byte("sealed data key"), 1
				d.SHA256 = make([]byte, 32)
				if err := s.FinishDocuments(ctx, ws.ID, []*portal.Document{d}, 0, t0.Add(time.Duration(i)*time.Second), portal.Record{}); err != nil {
					b.Fatal(err)
				}
				m := &portal.Message{ClientID: c.ID, AuthorID: u.ID, Body: "message", CreatedAt: t0}
				if err := s.AddClientMessage(ctx, ws.ID, m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu := ProcessCPU()
			for b.Loop() {
				sp, err := portal.ReadSpaceFrom(ctx, s, ws.ID, c.ID, u.ID, 5, 3)
				if err != nil {
					b.Fatal(err)
				}
				if want := min(n, 5); len(sp.Documents) != want {
					b.Fatalf("%d documents, want %d", len(sp.Documents), want)
				}
			}
			b.ReportMetric(float64(ProcessCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// ProcessCPU is the user and system CPU time this process has used. On a
// machine shared with other work, a benchmark's CPU time per operation
// moves far less than its wall time, which includes waiting for a core.
// (PostgreSQL's own CPU is not in it.)
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
