// The Pod Security Standard "restricted" profile (kubernetes.io/docs/concepts/security/pod-security-standards),
// as the checks a pod template must pass; each violation names the field that breaks it.
type Obj = Record<string, any>;

const ALLOWED_VOLUMES = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];

export function restrictedViolations(pod: Obj): string[] {
  const out: string[] = [];
  const podSc: Obj = pod.securityContext ?? {};
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) if (pod[f]) out.push(`spec.${f} is true`);
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== "name");
    if (!type || !ALLOWED_VOLUMES.includes(type)) out.push(`volume ${v.name} has type ${type}`);
  }
  if (podSc.runAsUser === 0) out.push("spec.securityContext.runAsUser is 0");
  const containers: Obj[] = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  for (const c of containers) {
    const sc: Obj = c.securityContext ?? {};
    const at = `container ${c.name}: securityContext`;
    if (sc.privileged) out.push(`${at}.privileged is true`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${at}.allowPrivilegeEscalation is not false`);
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) out.push(`${at}.runAsNonRoot is not true (nor the pod's)`);
    if (sc.runAsUser === 0) out.push(`${at}.runAsUser is 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") out.push(`${at}.seccompProfile.type is ${seccomp}`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) out.push(`${at}.capabilities.drop lacks ALL`);
    for (const cap of sc.capabilities?.add ?? [])
      if (cap !== "NET_BIND_SERVICE") out.push(`${at}.capabilities.add has ${cap}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`container ${c.name}: hostPort ${p.hostPort}`);
  }
  return out;
}
