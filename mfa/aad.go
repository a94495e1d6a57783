package mfa

import "fmt"

// TOTPSeedAAD binds a sealed TOTP seed to its workspace and user, so a seed
// copied into another user's row does not open there. A key rotation
// re-seals seeds under it.
func TOTPSeedAAD(workspaceID, userID int64) string {
	return fmt.Sprintf("totp/ws:%d/user:%d", workspaceID, userID)
}
