package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/gatehouse-dev/gatehouse"
)

// postLogo sends the branding form as the page does: multipart, with the
// logo file (none when data is nil).
func (b *browser) postLogo(rawURL string, fields url.Values, data []byte) response {
	b.tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	w, err := mw.CreateFormFile("logo", "logo.png")
	if err != nil {
		b.tb.Fatal(err)
	}
	w.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", rawURL, &buf)
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

func logoPNG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{0x0b, 0x5c, uint8(x), 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

var logoSrcRE = regexp.MustCompile(`<a class="brand" href="/"><img src="(/brand/logo\.png\?v=[0-9a-f]{16})" alt="" height="32">`)

// TestLogo: the owner uploads a logo; it is refused when it is SVG, too big,
// not an image or too large in pixels; it is served redrawn (never the
// uploaded bytes) as image/png with nosniff and caching; every page of the
// workspace shows it, no other workspace does; admins and members cannot
// post; removing it takes it off every page.
func TestLogo(t *testing.T) {
	e := newEnv(t)
	ws := e.workspace("acme")
	e.workspace("other")
	e.user(ws, "admin@example.com", gatehouse.RoleAdmin)
	e.user(ws, "member@example.com", gatehouse.RoleMember)
	owner, admin, member := e.browser(), e.browser(), e.browser()
	owner.login("acme", "owner@example.com", goodPassword, "/dashboard")
	admin.login("acme", "admin@example.com", goodPassword, "/dashboard")
	member.login("acme", "member@example.com", goodPassword, "/dashboard")
	page := wsURL("acme", "/dashboard/settings/branding")
	fields := url.Values{"display_name": {"Acme"}, "accent_color": {"#0b5cad"}}

	// A PNG with a script after its end: a polyglot.
	upload := append(logoPNG(t, 60, 20), "<html><script>alert(document.cookie)</script>"...)
	wantStatus(t, "admin posts a logo", admin.postLogo(page, fields, upload), http.StatusForbidden)
	wantStatus(t, "member posts a logo", member.postLogo(page, fields, upload), http.StatusForbidden)
	wantStatus(t, "no logo yet", e.browser().get(wsURL("acme", "/brand/logo.png")), http.StatusNotFound)

	big := logoPNG(t, 60, 20)
	big = append(big, make([]byte, 256<<10)...)
	bomb := logoPNG(t, 1, 1)
	bomb = bytes.Replace(bomb, []byte{0, 0, 0, 1, 0, 0, 0, 1}, []byte{0, 1, 0, 0, 0, 1, 0, 0}, 1) // 65536 × 65536, bad checksum too
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{name: "SVG", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), want: "SVG logos are not accepted"},
		{name: "too big", data: big, want: "larger than 256 KiB"},
		{name: "bad bytes", data: []byte("GIF89a, or anything else"), want: "not a PNG, JPEG or WebP image"},
		{name: "huge dimensions", data: logoPNG(t, 4097, 1), want: "too large in pixels"},
		{name: "bomb header", data: bomb, want: "not a PNG, JPEG or WebP image"},
	} {
		res := owner.postLogo(page, fields, tt.data)
		wantStatus(t, tt.name, res, http.StatusUnprocessableEntity)
		wantBody(t, tt.name, res, tt.want)
	}
	if res := e.browser().get(wsURL("acme", "/login")); strings.Contains(res.body, "/brand/logo.png") {
		t.Fatal("a refused logo shows")
	}

	wantStatus(t, "owner uploads", owner.postLogo(page, fields, upload), http.StatusSeeOther)
	login := e.browser().get(wsURL("acme", "/login"))
	m := logoSrcRE.FindStringSubmatch(login.body)
	if m == nil {
		t.Fatalf("login page lacks the logo in its header:\n%s", login.body)
	}
	client := e.browser()
	client.login("acme", "client@example.com", goodPassword, "/portal")
	for b, paths := range map[*browser][]string{
		owner:  {"/dashboard", "/dashboard/settings/branding", "/dashboard/audit"},
		admin:  {"/dashboard/settings/branding", "/account/security"},
		client: {"/portal", "/portal/documents", "/account/security", "/no/such/page"},
	} {
		for _, p := range paths {
			if res := b.get(wsURL("acme", p)); !strings.Contains(res.body, m[1]) {
				t.Errorf("%s lacks the logo (status %d)", p, res.StatusCode)
			}
		}
	}
	if res := e.browser().get(wsURL("other", "/login")); strings.Contains(res.body, "/brand/logo.png") {
		t.Error("another workspace shows acme's logo")
	}
	wantStatus(t, "other workspace's logo", e.browser().get(wsURL("other", "/brand/logo.png")), http.StatusNotFound)

	res := e.browser().get(wsURL("acme", m[1]))
	wantStatus(t, "logo", res, http.StatusOK)
	for h, want := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=31536000, immutable"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("logo %s = %q, want %q", h, got, want)
		}
	}
	if res.body == string(upload) || strings.Contains(res.body, "<script") {
		t.Fatal("the logo is served as uploaded")
	}
	img, err := png.Decode(strings.NewReader(res.body))
	if err != nil || img.Bounds().Dx() != 60 || img.Bounds().Dy() != 20 {
		t.Fatalf("served logo: %v, %v", img.Bounds(), err)
	}
	if got := e.browser().get(wsURL("acme", "/brand/logo.png?v=old")).Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("a stale logo URL is cached: %q", got)
	}
	wantBody(t, "audit", owner.get(wsURL("acme", "/dashboard/audit")), "new logo")

	// A save without a file keeps the logo; the owner may remove it.
	wantStatus(t, "save, no file", owner.postLogo(page, fields, nil), http.StatusSeeOther)
	wantBody(t, "logo kept", e.browser().get(wsURL("acme", "/login")), m[1])
	wantStatus(t, "admin removes", admin.postLogo(page, url.Values{"remove_logo": {"on"}}, nil), http.StatusForbidden)
	wantStatus(t, "owner removes", owner.postLogo(page, url.Values{"display_name": {"Acme"}, "remove_logo": {"on"}}, nil), http.StatusSeeOther)
	if res := e.browser().get(wsURL("acme", "/login")); strings.Contains(res.body, "/brand/logo.png") {
		t.Error("the removed logo still shows")
	}
	wantStatus(t, "removed logo", e.browser().get(wsURL("acme", m[1])), http.StatusNotFound)
	wantBody(t, "audit", owner.get(wsURL("acme", "/dashboard/audit")), "logo removed")
}

// wideLogoPNG draws a logo as wide as a stored logo may be (600 × 120): the
// demo's mark, then waves in the accent colour across the rest, so the
// layout walk's screenshots show a logo rather than a test pattern.
func wideLogoPNG(tb testing.TB) []byte {
	tb.Helper()
	raw, err := os.ReadFile("testdata/logo-harbour-pine.png")
	if err != nil {
		tb.Fatal(err)
	}
	mark, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	const w, h = 600, 120
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(img, image.Rect(0, 0, h, h), mark, mark.Bounds(), xdraw.Over, nil)
	accent := color.NRGBA{0x0b, 0x5c, 0xad, 0xff}
	for x := h + 16; x < w; x++ {
		for i, base := range []float64{44, 64, 84} {
			y := base + 7*math.Sin(float64(x)/18+float64(i))
			for dy := -3; dy <= 3; dy++ {
				img.SetNRGBA(x, int(y)+dy, accent)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
