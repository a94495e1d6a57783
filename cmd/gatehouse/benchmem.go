package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/account"
	"github.com/gatehouse-dev/gatehouse/mail"
)

// benchChildEnv is set in the environment of the server benchMemory
// starts. The gatehouse binary ignores it; the command's own tests, whose
// executable is the test binary, run Main instead of their tests when they
// see it (see TestMain).
const benchChildEnv = "GATEHOUSE_BENCH_CHILD"

// benchMemory starts `gatehouse serve` in its own process (SQLite in a
// temporary directory, or a fresh PostgreSQL schema), uploads a document of
// size bytes through it and downloads it again, streamed both ways, and
// prints how the server's resident memory grew (VmHWM, the peak, and
// VmRSS from /proc/PID/status) from after sign-in to after each transfer.
func (m Main) benchMemory(ctx context.Context, dbURL string, size int64) (err error) {
	name := "SQLite"
	dir, err := os.MkdirTemp("", "gatehouse-bench-mem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if dbURL != "" {
		name = "PostgreSQL"
		schemaURL, drop, err := benchSchema(ctx, dbURL)
		if err != nil {
			return err
		}
		defer drop()
		dbURL = schemaURL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // the server binds it again, a moment later
	base := "http://localhost:" + port

	// The workspace and the client are made here, before the server starts;
	// the server finds the key file in the same directory.
	email, password, err := m.seedMemoryBench(ctx, dir, dbURL, base)
	if err != nil {
		return fmt.Errorf("seed %s: %w", name, err)
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, exe, "serve")
	cmd.Env = []string{
		"GATEHOUSE_DATA_DIR=" + dir, "GATEHOUSE_ADDR=" + addr, "GATEHOUSE_BASE_URL=" + base,
		"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_MAX_UPLOAD_MB=" + strconv.FormatInt(size>>20+1, 10),
		benchChildEnv + "=1", "PATH=" + os.Getenv("PATH"),
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if err != nil {
			err = fmt.Errorf("%w\nserver log:\n%s", err, logs.String())
		}
	}()

	c := &benchClient{host: "bench.localhost:" + port, http: &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	defer c.http.CloseIdleConnections()
	if err := c.waitUp(ctx); err != nil {
		return err
	}
	if err := c.signIn(email, password); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	before, err := procMemory(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	sum, err := c.upload(size)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	up := time.Since(t0)
	afterUp, err := procMemory(pid)
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := c.download(size, sum); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	down := time.Since(t0)
	afterDown, err := procMemory(pid)
	if err != nil {
		return err
	}
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	fmt.Fprintf(m.Stdout, "%d MB document, %s, server in its own process (pid %d): resident %.0f MB after sign-in (peak %.0f MB); "+
		"upload %.0f MB/s, peak %.0f MB (%+.0f MB); download %.0f MB/s, peak %.0f MB (%+.0f MB), resident now %.0f MB\n",
		size>>20, name, pid, mb(before.rss), mb(before.hwm),
		float64(size)/1e6/up.Seconds(), mb(afterUp.hwm), mb(afterUp.hwm-before.hwm),
		float64(size)/1e6/down.Seconds(), mb(afterDown.hwm), mb(afterDown.hwm-before.hwm), mb(afterDown.rss))
	return nil
}

// seedMemoryBench makes the workspace "bench" with a client user in a
// client of their own, and returns the user's e-mail and password.
func (m Main) seedMemoryBench(ctx context.Context, dir, dbURL, base string) (string, string, error) {
	log := slog.New(slog.DiscardHandler)
	quiet := m
	quiet.Getenv = func(string) string { return "" }
	a, err := quiet.newApp(ctx, config{DataDir: dir, DatabaseURL: dbURL, BaseURL: base}, mail.DevSender{Logger: log}, log)
	if err != nil {
		return "", "", err
	}
	defer a.store.Close()
	now := a.accounts.Now()
	ws := gatehouse.NewWorkspace("bench", "Bench & Co", gatehouse.PlanPro, now)
	ws.MFA.Mode = gatehouse.MFAOptional
	if err := a.store.CreateWorkspace(ctx, ws); err != nil {
		return "", "", err
	}
	email, password := "client@bench.localhost", demoPassword()
	u, _, err := a.accounts.CreateUser(ctx, ws, account.NewUser{Email: email, Name: "Casey Client", Role: gatehouse.RoleClient, Password: password})
	if err != nil {
		return "", "", err
	}
	if _, err := a.portal.AssignClient(ctx, ws.ID, u, 0); err != nil {
		return "", "", err
	}
	return email, password, nil
}

// procStatus is what /proc/PID/status says of a process's memory.
type procStatus struct{ rss, hwm int64 } // bytes

func procMemory(pid int) (procStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, fmt.Errorf("resident memory needs Linux's /proc: %w", err)
	}
	defer f.Close()
	var st procStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var kb int64
		fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
		switch k {
		case "VmRSS":
			st.rss = kb << 10
		case "VmHWM":
			st.hwm = kb << 10
		}
	}
	if st.hwm == 0 {
		return st, errors.New("no VmHWM in /proc/PID/status")
	}
	return st, sc.Err()
}

// benchClient is a signed-in browser of the memory check.
type benchClient struct {
	host   string
	cookie string
	http   *http.Client
}

func (c *benchClient) do(method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://"+c.host+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	return c.http.Do(req)
}

// waitUp waits up to 30 seconds for the server to answer.
func (c *benchClient) waitUp(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.do("GET", "/login", "", nil)
		if err == nil {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the server did not answer: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *benchClient) signIn(email, password string) error {
	form := url.Values{"email": {email}, "password": {password}}.Encode()
	res, err := c.do("POST", "/login", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		return err
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if strings.HasSuffix(ck.Name, "gatehouse_session") {
			c.cookie = ck.Name + "=" + ck.Value
		}
	}
	if res.StatusCode != http.StatusSeeOther || c.cookie == "" {
		return fmt.Errorf("POST /login: status %d, cookie %t", res.StatusCode, c.cookie != "")
	}
	return nil
}

// upload posts size bytes of benchBytes as a multipart form, generated as
// it is sent, and returns their SHA-256.
func (c *benchClient) upload(size int64) ([]byte, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	h := sha256.New()
	go func() {
		w, err := mw.CreateFormFile("file", "big.bin")
		if err == nil {
			_, err = io.Copy(io.MultiWriter(w, h), benchBytes(size))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	res, err := c.do("POST", "/portal/documents", mw.FormDataContentType(), pr)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /portal/documents: status %d", res.StatusCode)
	}
	return h.Sum(nil), nil
}

// download fetches the newest document the API lists and checks its size
// and SHA-256.
func (c *benchClient) download(size int64, sum []byte) error {
	res, err := c.do("GET", "/api/v1/documents", "", nil)
	if err != nil {
		return err
	}
	var list struct {
		Documents []struct {
			URL  string `json:"url"`
			Size int64  `json:"size"`
		} `json:"documents"`
	}
	err = json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if err != nil || len(list.Documents) == 0 || list.Documents[0].Size != size {
		return fmt.Errorf("GET /api/v1/documents: status %d, %d documents, %v", res.StatusCode, len(list.Documents), err)
	}
	res, err = c.do("GET", list.Documents[0].URL, "", nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, res.Body)
	if err != nil || res.StatusCode != http.StatusOK || n != size || !bytes.Equal(h.Sum(nil), sum) {
		return fmt.Errorf("GET %s: status %d, %d of %d bytes, %v", list.Documents[0].URL, res.StatusCode, n, size, err)
	}
	return nil
}
