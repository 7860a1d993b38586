// The test pods' program for verify.sh: static, standard library only, on a scratch image.
module letta-k8s/test/tools/local-cluster/go/probe

go 1.24
