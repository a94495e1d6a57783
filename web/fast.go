package web

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
)

// Header values every answer sends, built once. Each is a slice of length
// and capacity one, so Header.Add on a response makes a copy instead of
// writing into the shared array, and Header.Set replaces the slice; the
// map assignment itself is the only per-request work (Header.Set would
// allocate a new slice and canonicalize the key every time).
var (
	pageCSP = headerValue("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	frameDeny  = headerValue("DENY")
	noSniff    = headerValue("nosniff")
	sameOrigin = headerValue("same-origin")
	htmlType   = headerValue("text/html; charset=utf-8")
	jsonType   = headerValue("application/json")
	noStore    = headerValue("no-store")
)

func headerValue(v string) []string { return []string{v}[:1:1] }

// bufPool reuses render buffers: a page is rendered whole before its status
// is written, so a template error can still become a clean 500.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps a rare huge page (a long audit log) from pinning
// its buffer in the pool for good.
const maxPooledBuffer = 256 << 10

func getBuffer() *bytes.Buffer {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	return buf
}

func putBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		bufPool.Put(buf)
	}
}

// writeBody writes a rendered body with its length declared, so the answer
// is one write with no chunked framing whatever its size.
func writeBody(w http.ResponseWriter, status int, buf *bytes.Buffer) {
	w.Header()["Content-Length"] = []string{strconv.Itoa(buf.Len())}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
