package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/secret"
	"github.com/gatehouse-dev/gatehouse/sqlite"
)

// backup writes a consistent copy of the SQLite database while a server may
// be running on it. PostgreSQL has its own tools for that.
func (m Main) backup(ctx context.Context, args []string) error {
	var c config
	fs := m.flagSet("backup", "--out FILE", &c)
	out := fs.String("out", "", "`file` to write the copy to; must not exist")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.DatabaseURL != "" {
		return errors.New("backup copies the SQLite database; on PostgreSQL use pg_dump, e.g. " +
			`pg_dump --format=custom --file=gatehouse.dump "$GATEHOUSE_DATABASE_URL" (see README, Backup and restore)`)
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	dbPath := filepath.Join(c.DataDir, "gatehouse.db")
	// Never create a database just to copy it: a mistyped data dir would
	// otherwise yield an empty "backup".
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("no database at %s: %w", dbPath, err)
	}
	db, err := sqlite.Open(dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, *out); err != nil {
		return err
	}
	info, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "Backed up %s to %s (%d bytes).\n", dbPath, *out, info.Size())
	fmt.Fprintln(m.Stdout, keyReminder(m.Getenv("GATEHOUSE_SECRET_KEY") != "", c.DataDir))
	return nil
}

// keyReminder says where the server key is: a copy without it cannot open
// TOTP seeds or Twilio tokens.
func keyReminder(fromEnv bool, dataDir string) string {
	if fromEnv {
		return "Keep GATEHOUSE_SECRET_KEY with it, stored apart: without the key the copy's TOTP seeds and Twilio tokens cannot be opened."
	}
	path := filepath.Join(dataDir, secret.KeyFileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return "No key file found at " + path + ": keep the server key with the copy, stored apart; without it the copy's secrets cannot be opened."
	}
	return "Keep the key file " + path + " with it, stored apart: without the key the copy's TOTP seeds and Twilio tokens cannot be opened."
}
