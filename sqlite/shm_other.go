//go:build !unix

package sqlite

import "errors"

// mapShm is unix-only; elsewhere the visit cache reads PRAGMA data_version.
func mapShm(string) ([]byte, func() error, error) {
	return nil, nil, errors.New("no shared-memory mapping on this system")
}
