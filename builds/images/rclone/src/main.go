// The rclone of the rclone twin: rclone v1.76.0's own main with only what the stack's backups and
// the e2e's object store use (the s3 and local backends; copy, copyto, lsf, deletefile, serve s3,
// version), so that it builds in minutes from the Go module proxy. See test/tools/images/README.
package main

import (
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/s3"
	"github.com/rclone/rclone/cmd"
	_ "github.com/rclone/rclone/cmd/copy"
	_ "github.com/rclone/rclone/cmd/copyto"
	_ "github.com/rclone/rclone/cmd/deletefile"
	_ "github.com/rclone/rclone/cmd/lsf"
	_ "github.com/rclone/rclone/cmd/serve/s3"
	_ "github.com/rclone/rclone/cmd/version"
)

func main() {
	cmd.Main()
}
