// Entry point of the locally built model registry server; the commands are the upstream ones.
package main

import (
	"github.com/golang/glog"
	"github.com/kubeflow/hub/localbuild/cmd"
)

func main() {
	defer glog.Flush()
	cmd.Execute()
}
