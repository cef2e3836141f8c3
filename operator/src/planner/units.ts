// Number formatting for reasons and tables.
const GiB = 2 ** 30;

export const gib = (bytes: number): string => `${(bytes / GiB).toFixed(2)} GiB`;
export const count = (n: number): string => n.toLocaleString("en-US");
