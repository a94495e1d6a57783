package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/portal"
)

// seedPortal fills the demo's client space so the first look at the portal
// is a portal in use: a client with a few documents (generated PDFs and a
// CSV), an open document request and a short conversation.
func seedPortal(ctx context.Context, a *app, ws *gatehouse.Workspace, owner, client *gatehouse.User, now time.Time) error {
	c, err := a.portal.CreateClient(ctx, portal.Viewer{WorkspaceID: ws.ID, UserID: owner.ID, Name: owner.Name, Role: owner.Role}, "Harbor & Pine Dental", "")
	if err != nil {
		return err
	}
	if _, err := a.portal.AssignClient(ctx, ws.ID, client, c.ID); err != nil {
		return err
	}
	staff := portal.Viewer{WorkspaceID: ws.ID, UserID: owner.ID, Name: owner.Name, Role: owner.Role}
	them := portal.Viewer{WorkspaceID: ws.ID, UserID: client.ID, Name: client.Name, Role: client.Role, ClientID: c.ID}
	docs := []struct {
		who       portal.Viewer
		name      string
		data      []byte
		title     string
		note      string
		sensitive bool
	}{
		{staff, "engagement-letter.pdf", demoPDF("Engagement letter", "Harbor & Pine Dental", "Scope: bookkeeping, payroll and year-end accounts.", "Fees: as agreed, billed monthly."), fmt.Sprintf("Engagement letter %d", now.Year()), "Signed copy for your records.", false},
		{staff, "payroll-summary-may.pdf", demoPDF("Payroll summary - May", "Harbor & Pine Dental", "Employees: 7", "Gross pay: 31,480.00", "Employer taxes: 4,102.55"), "Payroll summary, May", "", true},
		{them, fmt.Sprintf("invoices-%d.csv", now.Year()), demoCSV(now.Year()), "", "Exported from our practice software.", false},
	}
	for _, d := range docs {
		up, err := a.portal.BeginUpload(ctx, d.who, c.ID, d.name)
		if err != nil {
			return err
		}
		if _, err := up.Write(d.data); err != nil {
			up.Abort()
			return err
		}
		if err := up.Close(); err != nil {
			up.Abort()
			return err
		}
		if _, err := a.portal.Finish(ctx, d.who, ws, []*portal.Upload{up}, portal.UploadMeta{Title: d.title, Note: d.note, Sensitive: d.sensitive}); err != nil {
			up.Abort()
			return err
		}
	}
	due := now.AddDate(0, 0, 7).Format(time.DateOnly)
	if _, err := a.portal.Ask(ctx, staff, ws, c.ID, "Proof of address for the practice", "A utility bill or bank statement from the last three months.", due, ""); err != nil {
		return err
	}
	for _, m := range []struct {
		who  portal.Viewer
		body string
	}{
		{staff, "Welcome to your client portal! Your engagement letter and May payroll summary are under Documents.\nCould you upload a proof of address when you have a moment?"},
		{them, "Thanks! I've added our invoice export for this year.\nThe proof of address will follow this week."},
		{staff, "Perfect, thank you. We'll start on the quarterly return on Monday."},
	} {
		if _, err := a.portal.Post(ctx, m.who, ws, c.ID, m.body, ""); err != nil {
			return err
		}
	}
	return nil
}

// demoPDF writes a small one-page PDF with a title and lines of text.
func demoPDF(title string, lines ...string) []byte {
	esc := strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`)
	var content strings.Builder
	fmt.Fprintf(&content, "BT /F1 20 Tf 72 760 Td (%s) Tj ET\n", esc.Replace(title))
	for i, l := range lines {
		fmt.Fprintf(&content, "BT /F1 12 Tf 72 %d Td (%s) Tj ET\n", 720-20*i, esc.Replace(l))
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// demoCSV is a short invoice export of the year.
func demoCSV(year int) []byte {
	return fmt.Appendf(nil, "invoice,date,patient_ref,amount\n"+
		"INV-1041,%[1]d-01-14,P-2231,180.00\n"+
		"INV-1042,%[1]d-02-02,P-1980,95.50\n"+
		"INV-1043,%[1]d-02-27,P-2231,240.00\n"+
		"INV-1044,%[1]d-03-19,P-3017,1200.00\n"+
		"INV-1045,%[1]d-04-08,P-1122,75.00\n", year)
}
