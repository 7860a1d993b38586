/**
 * A real Kubernetes API server for tests, after controller-runtime's envtest: etcd and kube-apiserver
 * without a kubelet, so that manifests meet the server's validation, defaulting and admission
 * (Pod Security included) but no Pod ever runs. Binaries: `npm run control-plane:build`.
 */
export { findControlPlaneBinaries } from './binaries';
export { type ControlPlane, startControlPlane } from './control-plane';
