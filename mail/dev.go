package mail

import (
	"context"
	"log/slog"

	"github.com/gatehouse-dev/gatehouse"
)

// DevSender is the Sender used when no SMTP URL is configured: it "delivers"
// a message by logging it, codes and links included, so a developer can sign
// in without a mail server. The outbox still marks such messages sent, and the
// web package lists them at /_dev/outbox.
//
// DevSender prints secrets into the log, so it must never be wired up in
// production; cmd/gatehouse uses it only when GATEHOUSE_SMTP_URL is empty.
type DevSender struct {
	Logger *slog.Logger // nil means slog.Default()
}

// Send logs m at Info and never fails.
func (d DevSender) Send(ctx context.Context, m gatehouse.Message) error {
	logger := d.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "dev outbox: message not sent, logged instead",
		slog.Int64("id", m.ID),
		slog.Int64("workspace_id", m.WorkspaceID),
		slog.String("to", m.To),
		slog.String("subject", m.Subject),
		slog.String("body", m.Body),
	)
	return nil
}
