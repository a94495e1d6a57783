package web_test

// The attack catalogue (issue 13): one file per class of attack, each
// through the real HTTP stack (the router on a real SQLite file and, where
// several requests or instances matter, on two instances over PostgreSQL),
// each test failing when its protection is removed.
//
//	class                   file                          also covered by
//	skipping verify         attack_skipverify_test.go     TestEveryWayInReachesTheGate, TestRequiredMode (gate_test.go)
//	tampering               attack_tamper_test.go         TestTrustedDevices (lifetime 0), TestResetRefusesEmailFactor
//	code reuse              attack_reuse_test.go          TestTOTPEnrollAndChallenge, TestEmailCodes (gate_test.go), TestPasskeyReplay
//	races                   attack_race_test.go           storetest (single use under races, both stores), TestMailFormLimitAcrossInstances
//	cross-tenant IDs        attack_crosstenant_test.go    TestPortalIsolation, TestTenancy, TestPasskeyBinding, storetest tenancy
//	brute force             attack_bruteforce_test.go     TestPasswordReset (mail forms per address), TestSMSGuard, account and mfa (IPv6 /64)
//	enumeration             attack_enumeration_test.go    TestPasswordReset, TestSignup (same answers)
//	open redirects          attack_redirect_test.go       TestRolesAndRedirects
//	Host-header poisoning   attack_host_test.go           TestTenancy (unknown hosts)
//	privilege               attack_privilege_test.go      TestOwnerSettings, TestAdminReset, TestRolesAndRedirects, TestPasskeyAdminReset
//	CSV formula injection   attack_csv_test.go            -
//	cross-site form posts   attack_csrf_test.go           TestHardening
//	slow and oversized      attack_slow_test.go and       TestHardening, TestSlowUpload, TestUploadTooLarge, TestUploadCutOff,
//	                        cmd/gatehouse/attack_slow_test.go  TestLongUserAgent
//
// Fuzz targets for the parsers behind these routes are in fuzz_test.go and
// the packages they test (mfa, portal, secret); .ci/run runs each a few
// seconds.

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

// routes returns the matches of re in the files that register the
// workspace routes (routes.go and portal.go), so that a catalogue test
// covers every route, including ones added after it was written.
func routes(tb testing.TB, re *regexp.Regexp) [][]string {
	tb.Helper()
	var ms [][]string
	for _, name := range []string{"routes.go", "portal.go"} {
		src, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		ms = append(ms, re.FindAllStringSubmatch(string(src), -1)...)
	}
	return ms
}

// enableSignup lets anyone sign up to the workspace, as its owner may.
func (e *env) enableSignup(ws *gatehouse.Workspace) {
	e.tb.Helper()
	on := true
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
		e.tb.Fatal(err)
	}
}
