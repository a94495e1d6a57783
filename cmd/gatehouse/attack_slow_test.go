package main

// Attack class: slow and oversized requests, against the server as
// `gatehouse serve` configures it (the web package's own tests run the
// handler behind httptest, whose server has no timeouts; see
// web/attack_slow_test.go for the body limits).

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAttackSlowloris: a client that sends its headers a byte at a time, or
// not at all, is hung up on once the header timeout (10 s) has passed,
// instead of holding a connection and a goroutine for as long as it likes.
// The test's deadline (25 s) leaves a slow machine 15 s of slack, and is
// still shorter than the server's whole-request ReadTimeout (30 s): a server
// without the header timeout fails it, even though ReadTimeout would hang up
// on the client later.
func TestAttackSlowloris(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t)
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	for _, tc := range []struct {
		name string
		send func(net.Conn) error
	}{
		{"no header end", func(c net.Conn) error {
			_, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gatehouse.test\r\nX-a: b\r\n")
			return err
		}},
		{"a byte at a time", func(c net.Conn) error {
			if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gatehouse.test\r\nX-Padding: "); err != nil {
				return err
			}
			for {
				if _, err := c.Write([]byte("a")); err != nil {
					return nil // hung up on: what the test waits for
				}
				time.Sleep(500 * time.Millisecond)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			deadline := time.Now().Add(25 * time.Second)
			c.SetDeadline(deadline)
			go tc.send(c)
			// The server answers 408 or just closes; either way the read
			// ends long before the deadline.
			_, err = io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept a connection without complete headers open for 25 s (its header timeout is 10 s)")
			}
		})
	}
}

// TestAttackOversizedHeaders: headers past 64 KiB are refused with 431.
func TestAttackOversizedHeaders(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t)
	srv := startServe(t, env, "--addr", "127.0.0.1:0", "--base-url", testBaseURL)
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	go fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gatehouse.test\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 100<<10))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}
