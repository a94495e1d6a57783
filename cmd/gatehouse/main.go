// Command gatehouse runs the Gatehouse portal server and administers it.
//
//	gatehouse serve [--demo]
//	gatehouse migrate
//	gatehouse workspace create|set-plan|set-options ...
//	gatehouse user create ...
//
// Every flag can also be set with its GATEHOUSE_* environment variable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the whole program behind its streams and environment, so tests
// can run any command in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Ready, when set, receives the listening address once serve accepts
	// connections (tests).
	Ready chan<- string
}

// command is one subcommand.
type command struct {
	name  string
	usage string
	run   func(m Main, ctx context.Context, args []string) error
}

func (m Main) commands() []command {
	return []command{
		{"serve", "run the server", Main.serve},
		{"migrate", "bring the database schema up to date", Main.migrate},
		{"workspace create", "create a workspace and its owner", Main.workspaceCreate},
		{"workspace set-plan", "change a workspace's plan", Main.workspaceSetPlan},
		{"workspace set-options", "turn self sign-up and remember-me on or off", Main.workspaceSetOptions},
		{"workspace set-mfa", "set two-step verification mode, methods, trusted days, grace", Main.workspaceSetMFA},
		{"workspace set-twilio", "set the workspace's own Twilio account for SMS codes", Main.workspaceSetTwilio},
		{"user create", "create a user in a workspace", Main.userCreate},
		{"client create", "create a client (a client account of the portal) and print its ID", Main.clientCreate},
		{"keys rotate", "re-seal every secret under the current server key, so previous keys can go", Main.keysRotate},
		{"backup", "write a consistent copy of the SQLite database, even while serving", Main.backup},
		{"user reset-2fa", "clear a user's two-step methods, recovery codes and trusted devices", Main.userReset2FA},
		{"bench", "measure pages and sign-ins against bare net/http, in this process on loopback", Main.bench},
	}
}

// Run runs the command in args and returns the exit code.
func (m Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		// A missing command is a mistake: the usage goes to stderr.
		m.usage(m.Stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		m.usage(m.Stdout)
		return 0
	}
	for _, c := range m.commands() {
		words := strings.Fields(c.name)
		if len(args) < len(words) || !slices.Equal(args[:len(words)], words) {
			continue
		}
		err := c.run(m, ctx, args[len(words):])
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(m.Stderr, "gatehouse %s: %v\n", c.name, err)
		return 1
	}
	// A command group ("workspace", "user") on its own or with --help
	// lists its commands.
	if group := m.group(args[0]); group != nil {
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help" || args[1] == "help") {
			m.listCommands(m.Stdout, group)
			return 0
		}
		if len(args) == 1 {
			fmt.Fprintf(m.Stderr, "gatehouse %s: which one?\n\n", args[0])
		} else {
			fmt.Fprintf(m.Stderr, "gatehouse %s: unknown command %q\n\n", args[0], args[1])
		}
		m.listCommands(m.Stderr, group)
		return 2
	}
	fmt.Fprintf(m.Stderr, "gatehouse: unknown command %q\n\n", args[0])
	m.usage(m.Stderr)
	return 2
}

// group returns the commands whose first word is name, if it names a group.
func (m Main) group(name string) []command {
	var cs []command
	for _, c := range m.commands() {
		if words := strings.Fields(c.name); len(words) > 1 && words[0] == name {
			cs = append(cs, c)
		}
	}
	return cs
}

func (m Main) listCommands(w io.Writer, cs []command) {
	fmt.Fprintln(w, "Usage: gatehouse <command> [flags]   (each command takes --help)")
	fmt.Fprintln(w)
	for _, c := range cs {
		fmt.Fprintf(w, "  %-24s %s\n", c.name, c.usage)
	}
}

func (m Main) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: gatehouse <command> [flags]   (each command takes --help)")
	fmt.Fprintln(w)
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  %-24s %s\n", c.name, c.usage)
	}
}

// errUsage reports bad flags, already explained on stderr.
var errUsage = errors.New("usage")
