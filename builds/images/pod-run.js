#!/usr/bin/env node
// Turns one container of a synthesized workload into `docker run` options that mimic the pod:
// user/group, read-only root, dropped capabilities, no privilege escalation, its env (values,
// $(VAR) references, Secret keys from the synthesized development Secrets), its command/args,
// and its mounts: emptyDir -> a directory under WORK_DIR (mode 0777 | fsGroup; medium Memory ->
// tmpfs, /dev/shm -> --shm-size), configMap/secret -> files written under
// WORK_DIR (read-only bind), a volumeClaimTemplate -> WORK_DIR/pvc-NAME (owned by the fsGroup).
//   node pod-run.js DIST_DIR WORKLOAD CONTAINER WORK_DIR
// Prints, NUL-separated: the image, the docker run options, "::command::", the command words.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require(require.resolve('js-yaml', { paths: [path.resolve(__dirname, '../..')] }));

const [distDir, workloadName, containerName, workDir] = process.argv.slice(2);
if (!workDir) {
  console.error('usage: pod-run.js DIST_DIR WORKLOAD CONTAINER WORK_DIR');
  process.exit(2);
}
const docs = fs.readdirSync(distDir).filter((f) => f.endsWith('.yaml')).sort()
  .flatMap((f) => yaml.loadAll(fs.readFileSync(path.join(distDir, f), 'utf8')).filter(Boolean));
const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
const workload = docs.find((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind) && d.metadata.name === workloadName);
if (!workload) throw new Error(`no workload ${workloadName} in ${distDir}`);
const pod = workload.spec.template.spec;
const container = [...(pod.initContainers || []), ...pod.containers].find((c) => c.name === containerName);
if (!container) throw new Error(`no container ${containerName} in ${workloadName}`);

const secretValue = (name, key) => {
  const secret = find('Secret', name);
  if (!secret) throw new Error(`Secret ${name} is not in ${distDir} (only development Secrets are)`);
  if (secret.stringData && key in secret.stringData) return secret.stringData[key];
  if (secret.data && key in secret.data) return Buffer.from(secret.data[key], 'base64').toString();
  throw new Error(`Secret ${name} has no key ${key}`);
};

const sc = { ...(pod.securityContext || {}), ...(container.securityContext || {}) };
const uid = sc.runAsUser ?? 0;
const gid = sc.runAsGroup ?? uid;
const fsGroup = pod.securityContext?.fsGroup;
const options = ['--user', `${uid}:${gid}`];
if (fsGroup !== undefined) options.push('--group-add', String(fsGroup));
if (sc.readOnlyRootFilesystem) options.push('--read-only');
for (const cap of sc.capabilities?.drop || []) options.push('--cap-drop', cap);
for (const cap of sc.capabilities?.add || []) options.push('--cap-add', cap);
if (sc.allowPrivilegeEscalation === false) options.push('--security-opt', 'no-new-privileges');
if (container.workingDir) options.push('--workdir', container.workingDir);

// Environment, in order, with $(VAR) expanded from earlier entries as the kubelet does.
const env = {};
const expand = (value) => value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => (v in env ? env[v] : m));
for (const e of container.env || []) {
  if (e.value !== undefined) env[e.name] = expand(String(e.value));
  else if (e.valueFrom?.secretKeyRef) env[e.name] = secretValue(e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key);
  else if (e.valueFrom?.configMapKeyRef) env[e.name] = find('ConfigMap', e.valueFrom.configMapKeyRef.name).data[e.valueFrom.configMapKeyRef.key];
  else throw new Error(`env ${e.name}: unsupported source`);
}
for (const [k, v] of Object.entries(env)) options.push('--env', `${k}=${v}`);

const writeFiles = (dir, entries) => {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, { content, mode }] of Object.entries(entries)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    fs.chmodSync(file, mode);
    // The kubelet makes projected files readable by the pod's fsGroup.
    if (fsGroup !== undefined) fs.chownSync(file, 0, fsGroup);
  }
};
const volumes = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
const claims = Object.fromEntries((workload.spec.volumeClaimTemplates || []).map((c) => [c.metadata.name, c]));
for (const m of container.volumeMounts || []) {
  const v = volumes[m.name];
  const hostDir = path.join(workDir, `${workloadName}-${m.name}`);
  const ro = m.readOnly ? ',readonly' : '';
  if (claims[m.name]) {
    const dir = path.join(workDir, `pvc-${workloadName}-${m.name}`);
    fs.mkdirSync(dir, { recursive: true });
    // A fresh volume with fsGroup: group-owned, setgid, group-writable.
    if (fsGroup !== undefined) { fs.chownSync(dir, 0, fsGroup); fs.chmodSync(dir, 0o2775); }
    options.push('--mount', `type=bind,source=${dir},target=${m.mountPath}${ro}`);
  } else if (!v) {
    throw new Error(`mount ${m.name}: no such volume`);
  } else if (v.emptyDir) {
    const size = (v.emptyDir.sizeLimit || '64Mi').replace(/i$/, '').toLowerCase();
    if (m.mountPath === '/dev/shm') {
      options.push('--shm-size', size);
    } else if (v.emptyDir.medium === 'Memory') {
      options.push('--tmpfs', `${m.mountPath}:rw,exec,mode=1777,size=${size}`);
    } else {
      // On disk, as the kubelet makes it: mode 0777 (and the fsGroup's, setgid). Not a docker
      // tmpfs: that takes the mode of the image's directory below it (e.g. 0755 root).
      const dir = path.join(workDir, `emptydir-${workloadName}-${m.name}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.chmodSync(dir, 0o777);
      if (fsGroup !== undefined) { fs.chownSync(dir, 0, fsGroup); fs.chmodSync(dir, 0o2777); }
      options.push('--mount', `type=bind,source=${dir},target=${m.mountPath}`);
    }
  } else if (v.configMap || v.secret) {
    const source = v.configMap ? find('ConfigMap', v.configMap.name) : null;
    const read = (key) => (v.configMap ? source.data[key] : secretValue(v.secret.secretName, key));
    const mode = (v.configMap || v.secret).defaultMode ?? 0o644;
    const keys = (v.configMap || v.secret).items
      ? (v.configMap || v.secret).items.map((i) => [i.key, i.path, i.mode ?? mode])
      : Object.keys(v.configMap ? source.data : { ...find('Secret', v.secret.secretName).stringData }).map((k) => [k, k, mode]);
    writeFiles(hostDir, Object.fromEntries(keys.map(([key, p, md]) => [p, { content: read(key), mode: md }])));
    options.push('--mount', `type=bind,source=${hostDir},target=${m.mountPath},readonly`);
  } else {
    throw new Error(`mount ${m.name}: unsupported volume type`);
  }
}

const command = [...(container.command || []), ...(container.args || [])].map(expand);
// With a command the image's ENTRYPOINT is replaced (Kubernetes semantics); with args only it stays.
if (container.command) options.push('--entrypoint', command.shift());
process.stdout.write([container.image, ...options, '::command::', ...command].map((w) => `${w}\0`).join(''));
