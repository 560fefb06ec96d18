// Checks that pod.publicKey is an OpenSSH public key line (what authorized_keys takes), not a private key or a
// fingerprint, by decoding its base64 blob: the blob must start with the key type named in front of it.

const KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** Why `text` is not one or more OpenSSH public key lines, or undefined when it is. */
export function publicKeyProblem(text: string): string | undefined {
  if (/PRIVATE KEY/.test(text)) return "is a private key: give the public one (the .pub file, e.g. ~/.ssh/id_ed25519.pub)";
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return "is empty";
  for (const [index, line] of lines.entries()) {
    const where = lines.length > 1 ? `line ${index + 1} ` : "";
    const [type = "", blob = ""] = line.split(/\s+/);
    if (!KEY_TYPES.includes(type)) {
      return `${where}does not start with an OpenSSH key type (${KEY_TYPES.slice(0, 3).join(", ")}, …): copy the whole line of the .pub file`;
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return `${where}has no base64 key after ${type}`;
    const bytes = Buffer.from(blob, "base64");
    const nameLength = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
    const name = nameLength > 0 && 4 + nameLength <= bytes.length ? bytes.subarray(4, 4 + nameLength).toString("latin1") : "";
    if (name !== type) return `${where}is damaged: its key data is not a ${type} key (was the line cut or edited?)`;
  }
  return undefined;
}
