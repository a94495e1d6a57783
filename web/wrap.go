package web

import (
	"html/template"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxRun is the longest run of characters breakAddr leaves without a break.
const maxRun = 20

// breakAddr escapes an e-mail address, IP address or short text holding
// them for HTML and offers the browser line breaks where a reader expects
// them: before each "." and "@" and after each ":" (typographers break
// addresses before punctuation, so a line never ends in a dot that looks
// like a full stop), and inside any run of maxRun characters that has no
// break of its own. Narrow table cells then wrap "owner@example.com" as
// "owner@example / .com", not "owner@exampl / e.com", and no part is ever
// wider than maxRun characters, so a cell never pushes its table wide.
func breakAddr(s string) template.HTML {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	run := 0
	for i, r := range s {
		switch {
		case (r == '.' || r == '@') && i > 0:
			b.WriteString("<wbr>")
			run = 0
		case run >= maxRun:
			b.WriteString("<wbr>")
			run = 0
		}
		run++
		switch {
		case r == ':':
			b.WriteString(":<wbr>")
			run = 0
		case r == ' ' || r == '-' || r == '/':
			// The browser may break here already.
			b.WriteRune(r)
			run = 0
		default:
			b.WriteString(template.HTMLEscapeString(string(r)))
		}
	}
	return template.HTML(b.String())
}

// breakIP escapes an IP address for HTML with a line break offered after
// each ":" of an IPv6 address; an IPv4 address stays whole.
func breakIP(s string) template.HTML {
	return template.HTML(strings.ReplaceAll(template.HTMLEscapeString(s), ":", ":<wbr>"))
}

// maxOption is the most characters an option of a select shows.
const maxOption = 48

// optionText cuts a name to maxOption characters, ending it with "…": a
// closed select shows one line, and the list of a select whose option is a
// 200-character name would be wider than a phone's screen. The page keeps
// the whole name elsewhere (the option's title, the client's page).
func optionText(s string) string {
	if utf8.RuneCountInString(s) <= maxOption {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:maxOption-1]), unicode.IsSpace) + "…"
}
