// Kubernetes quantities as plain numbers (bytes). Enough of resource.Quantity for sizes: the
// binary (Ki..Ei) and decimal (k..E) suffixes, no exponents or milli.
const SUFFIX: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function parseQuantity(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(q.trim());
  if (!m) throw new Error(`"${q}" is not a quantity such as 200Gi`);
  return Math.ceil(Number(m[1]) * SUFFIX[m[2] ?? ""]!);
}

/** The smallest whole Gi quantity that holds `bytes`. */
export function bytesToGi(bytes: number): string {
  return `${Math.ceil(bytes / 2 ** 30)}Gi`;
}
