// Hand-off modes: with autoscaling.mode HPA or KEDA the operator renders the HorizontalPodAutoscaler
// or ScaledObject (its own builtin loop stays off); any other mode removes the one it rendered before.
import { renderHpa, renderScaledObject, type Dsd, type KubeObject } from "../render/index.ts";
import type { Obj } from "./observed.ts";
import { isSubset } from "./subset.ts";

export interface HandOff {
  apply: KubeObject[];
  remove: Obj[];
}

export function handOff(
  dsd: Dsd,
  live: { hpa?: Obj | undefined; scaledObject?: Obj | undefined; kedaServed: boolean },
): HandOff {
  const out: HandOff = { apply: [], remove: [] };
  const mode = dsd.spec.autoscaling.mode;
  if (mode === "HPA") {
    const hpa = renderHpa(dsd);
    if (!live.hpa || !isSubset(hpa, live.hpa)) out.apply.push(hpa);
  } else if (live.hpa) out.remove.push(live.hpa);
  if (mode === "KEDA" && live.kedaServed) {
    const so = renderScaledObject(dsd);
    if (!live.scaledObject || !isSubset(so, live.scaledObject)) out.apply.push(so);
  } else if (mode !== "KEDA" && live.scaledObject) out.remove.push(live.scaledObject);
  return out;
}
