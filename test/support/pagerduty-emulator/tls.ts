// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI at
// start. The CA is what clients trust (https.Agent `ca`, NODE_EXTRA_CA_CERTS); the server presents
// only the leaf, so a client without the CA fails verification (UNABLE_TO_VERIFY_LEAF_SIGNATURE).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

// Our own config, so the result does not depend on the machine's openssl.cnf defaults.
const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

export interface TestCertificate {
  caPem: string;
  caFile: string;
  keyPem: string;
  certPem: string;
}

/** Writes the CA and the leaf into `dir` (a fresh temp dir owned by the caller). */
export async function makeTestCertificate(dir: string): Promise<TestCertificate> {
  const file = (name: string) => join(dir, name);
  await writeFile(file('openssl.cnf'), CONFIG);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const common = ['-config', file('openssl.cnf')];
  await run('openssl', [
    'req',
    '-x509',
    ...ec,
    ...common,
    '-extensions',
    'ca_ext',
    '-subj',
    '/CN=PagerDuty emulator test CA',
    '-days',
    '2',
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
  ]);
  await run('openssl', [
    'req',
    '-new',
    ...ec,
    ...common,
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    file('server.key'),
    '-out',
    file('server.csr'),
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    `0x${Date.now().toString(16)}`,
    '-days',
    '2',
    '-extfile',
    file('openssl.cnf'),
    '-extensions',
    'leaf_ext',
    '-out',
    file('server.pem'),
  ]);
  const [caPem, keyPem, certPem] = await Promise.all(
    ['ca.pem', 'server.key', 'server.pem'].map((n) => readFile(file(n), 'utf8')),
  );
  return { caPem: caPem ?? '', caFile: file('ca.pem'), keyPem: keyPem ?? '', certPem: certPem ?? '' };
}
