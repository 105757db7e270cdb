// One CA and one admin key pair for everything, as kwokctl does: the apiserver's serving cert, every
// component's client cert (CN kwok-admin, O system:masters) and the service-account signing key.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  adminCert: string;
  adminKey: string;
}

export function createPki(dir: string): Pki {
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ssl('genrsa', '-out', p('ca.key'), '2048');
  ssl(
    'req',
    '-x509',
    '-new',
    '-key',
    p('ca.key'),
    '-subj',
    '/CN=rollback-bot-test-ca',
    '-days',
    '3650',
    '-out',
    p('ca.crt'),
  );
  ssl('genrsa', '-out', p('admin.key'), '2048');
  ssl(
    'req',
    '-new',
    '-key',
    p('admin.key'),
    '-subj',
    '/O=system:masters/CN=kwok-admin',
    '-out',
    p('admin.csr'),
  );
  writeFileSync(
    p('admin.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      'subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:::1',
      '',
    ].join('\n'),
  );
  ssl(
    'x509',
    '-req',
    '-in',
    p('admin.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-days',
    '3650',
    '-extfile',
    p('admin.ext'),
    '-out',
    p('admin.crt'),
  );
  return { caCert: p('ca.crt'), caKey: p('ca.key'), adminCert: p('admin.crt'), adminKey: p('admin.key') };
}

export function writeKubeconfig(file: string, server: string, pki: Pki): void {
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: test-world
  cluster:
    server: ${server}
    certificate-authority: ${pki.caCert}
users:
- name: admin
  user:
    client-certificate: ${pki.adminCert}
    client-key: ${pki.adminKey}
contexts:
- name: test-world
  context:
    cluster: test-world
    user: admin
current-context: test-world
`,
  );
}
