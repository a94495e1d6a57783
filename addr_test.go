package gatehouse_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestClientKey(t *testing.T) {
	same := [][]string{
		{"2001:db8::1", "2001:db8::ffff", "2001:db8:0:0:abcd::1", "2001:DB8::2", "2001:db8::3"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
	}
	for _, group := range same {
		for _, ip := range group[1:] {
			if a, b := gatehouse.ClientKey(group[0]), gatehouse.ClientKey(ip); a != b {
				t.Errorf("ClientKey(%q) = %q, ClientKey(%q) = %q; want one key", group[0], a, ip, b)
			}
		}
	}
	differ := [][2]string{
		{"2001:db8::1", "2001:db8:0:1::1"}, // the next /64
		{"192.0.2.1", "192.0.2.2"},         // IPv4 addresses are their own
		{"192.0.2.1", "2001:db8::1"},
		{"not an address", "also not one"},
	}
	for _, d := range differ {
		if gatehouse.ClientKey(d[0]) == gatehouse.ClientKey(d[1]) {
			t.Errorf("ClientKey(%q) == ClientKey(%q) = %q; want different keys", d[0], d[1], gatehouse.ClientKey(d[0]))
		}
	}
	if got := gatehouse.ClientKey("2001:db8::1"); got != "2001:db8::/64" {
		t.Errorf("ClientKey(2001:db8::1) = %q; want 2001:db8::/64", got)
	}
}
