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

import (
	"context"

	"github.com/gatehouse-dev/gatehouse"
)

// enableSignup lets anyone sign up to the workspace, as its owner may.
func (e *env) enableSignup(ws *gatehouse.Workspace) {
	e.tb.Helper()
	on := true
	if _, err := e.store.UpdateWorkspace(context.Background(), ws.ID, gatehouse.WorkspaceUpdate{SignupEnabled: &on}, e.clock.Now()); err != nil {
		e.tb.Fatal(err)
	}
}
