package sqlite_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/storetest"
)

func TestPortalStore(t *testing.T) {
	storetest.RunPortal(t, func(tb testing.TB) storetest.PortalStore { return MustOpen(tb) })
}

// TestSpaceRowsAnyText runs storetest.SpaceRowsWith with text only SQLite
// holds (PostgreSQL refuses NUL and malformed UTF-8): the packed rows of
// ListSpaceDocuments and ListClientMessages count bytes, not characters.
func TestSpaceRowsAnyText(t *testing.T) {
	storetest.SpaceRowsWith(t, MustOpen(t), []string{"", "\x00", "a\x00b 1 ", "\xff\xfe 2", "é\x00\xc3", "12 ", "x"})
}
