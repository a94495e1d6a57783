package web

import (
	"strings"
	"testing"
)

func TestBreakAddr(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "e-mail", in: "owner@example.com", want: "owner<wbr>@example<wbr>.com"},
		{name: "escaped", in: `"<b>"@x.test`, want: "&#34;&lt;b&gt;&#34;<wbr>@x<wbr>.test"},
		{name: "IPv6", in: "2001:db8::1", want: "2001:<wbr>db8:<wbr>:<wbr>1"},
		{name: "leading dot kept whole", in: ".x", want: ".x"},
		{name: "empty", in: "", want: ""},
		{name: "long run", in: strings.Repeat("x", 45) + "@y.z", want: strings.Repeat("x", 20) + "<wbr>" + strings.Repeat("x", 20) + "<wbr>xxxxx<wbr>@y<wbr>.z"},
		{name: "spaces break already", in: "reset by " + strings.Repeat("x", 19) + " a", want: "reset by " + strings.Repeat("x", 19) + " a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(breakAddr(tt.in)); got != tt.want {
				t.Errorf("breakAddr(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBreakIP(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1": "192.0.2.1", "2001:db8::1": "2001:<wbr>db8:<wbr>:<wbr>1", "<x>": "&lt;x&gt;"} {
		if got := string(breakIP(in)); got != want {
			t.Errorf("breakIP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionText(t *testing.T) {
	long := strings.Repeat("Montgomery", 20)
	for in, want := range map[string]string{
		"Acme Tax":                     "Acme Tax",
		strings.Repeat("é", maxOption): strings.Repeat("é", maxOption),
		long:                           long[:maxOption-1] + "…",
		"Harbourside Dental and Orthodontics of Greater Londonderry": "Harbourside Dental and Orthodontics of Greater…",
	} {
		if got := optionText(in); got != want {
			t.Errorf("optionText(%q) = %q, want %q", in, got, want)
		}
	}
}
