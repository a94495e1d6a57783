package web

import (
	"strings"
	"testing"
)

func TestEventLabelsCoverWrittenTypes(t *testing.T) {
	// An unknown type still reads as words, never as a dotted identifier.
	if got := eventLabel("portal.thing.happened"); strings.Contains(got, ".") {
		t.Errorf("eventLabel fallback = %q", got)
	}
	if got := statusTitle(404); got == "Not Found" {
		t.Errorf("statusTitle(404) = %q", got)
	}
}
