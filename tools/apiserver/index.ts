/**
 * A real Kubernetes API server for tests, after controller-runtime's envtest: etcd and kube-apiserver
 * without a kubelet, so that manifests meet the server's validation, defaulting and admission
 * (Pod Security included) but no Pod ever runs. Binaries: `npm run control-plane:build`.
 */
export { CONTROL_PLANE_BINARIES, type ControlPlaneBinaries, findControlPlaneBinaries } from './binaries';
export { type ControlPlane, type StartOptions, startControlPlane } from './control-plane';
