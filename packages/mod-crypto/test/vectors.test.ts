import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as nodeCrypto from 'node:crypto';
import { createRuntime, type Runtime } from '@fdloop/core';
import { epoll } from '@fdloop/backend-epoll';
import { cryptoModule, type CryptoApi } from '../src/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

let rt: Runtime;
let crypto: CryptoApi;
beforeAll(() => {
  rt = createRuntime({ backend: epoll(), pool: { size: 2 } });
  crypto = rt.use(cryptoModule({ chunkSize: 4096 }));
});
afterAll(async () => {
  await rt.close();
});

describe('published test vectors', () => {
  it('SHA-256 and SHA-512 (FIPS 180-2 examples)', async () => {
    expect((await crypto.hash('sha256', 'abc')).toString('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect((await crypto.hash('sha256', 'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toString('hex')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect((await crypto.hash('sha512', Buffer.from('abc'))).toString('hex')).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
  });

  it('SHA-256 of one million "a" through the streaming hash, in uneven chunks', async () => {
    const h = crypto.createHash('sha256');
    let left = 1_000_000;
    for (let size = 1; left > 0; size = (size * 7 + 3) % 10_007) {
      const n = Math.min(left, size + 1);
      h.update('a'.repeat(n));
      left -= n;
    }
    expect(await h.digest('hex')).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('HMAC-SHA-256 (RFC 4231 cases 1 and 2), one-shot and streaming', async () => {
    expect((await crypto.hmac('sha256', Buffer.alloc(20, 0x0b), 'Hi There')).toString('hex')).toBe(
      'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
    );
    const h = crypto.createHmac('sha256', 'Jefe').update('what do ya ').update('want for nothing?');
    expect(await h.digest('hex')).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('PBKDF2 (RFC 7914 §11 with HMAC-SHA-256, RFC 6070 with HMAC-SHA-1)', async () => {
    expect(await crypto.pbkdf2('passwd', 'salt', 1, 64, 'sha256')).toEqual(
      hex('55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783'),
    );
    expect(await crypto.pbkdf2('Password', 'NaCl', 80000, 64, 'sha256')).toEqual(
      hex('4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d'),
    );
    expect((await crypto.pbkdf2('password', 'salt', 1, 20, 'sha1')).toString('hex')).toBe('0c60c80f961f0e71f3a9b524af6012062fe037a6');
    expect((await crypto.pbkdf2('password', 'salt', 4096, 20, 'sha1')).toString('hex')).toBe('4b007901b765489abead49d926f721d065a429c1');
  });

  it('scrypt (RFC 7914 §12)', async () => {
    expect(await crypto.scrypt('', '', 64, { N: 16, r: 1, p: 1 })).toEqual(
      hex('77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906'),
    );
    expect(await crypto.scrypt('password', 'NaCl', 64, { N: 1024, r: 8, p: 16 })).toEqual(
      hex('fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640'),
    );
  });

  it('HKDF-SHA-256 (RFC 5869 case 1)', async () => {
    const okm = await crypto.hkdf('sha256', Buffer.alloc(22, 0x0b), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(okm.toString('hex')).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('AES-256-GCM (GCM specification test cases 13–16, as used by NIST CAVP)', async () => {
    const zeroKey = Buffer.alloc(32);
    const zeroIv = Buffer.alloc(12);
    const t13 = await crypto.encrypt({ key: zeroKey, iv: zeroIv, plaintext: Buffer.alloc(0) });
    expect(t13.tag.toString('hex')).toBe('530f8afbc74536b9a963b4f1c4cb738b');
    const t14 = await crypto.encrypt({ key: zeroKey, iv: zeroIv, plaintext: Buffer.alloc(16) });
    expect(t14.ciphertext.toString('hex')).toBe('cea7403d4d606b6e074ec5d3baf39d18');
    expect(t14.tag.toString('hex')).toBe('d0d1c8a799996bf0265b98b5d48ab919');
    const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
    const iv = hex('cafebabefacedbaddecaf888');
    const p = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255');
    const c15 = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad';
    const t15 = await crypto.encrypt({ key, iv, plaintext: p });
    expect(t15.ciphertext.toString('hex')).toBe(c15);
    expect(t15.tag.toString('hex')).toBe('b094dac5d93471bdec1a502270e3cc6c');
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const t16 = await crypto.encrypt({ key, iv, plaintext: p.subarray(0, 60), aad });
    expect(t16.ciphertext.toString('hex')).toBe(c15.slice(0, 120));
    expect(t16.tag.toString('hex')).toBe('76fc6ece0f4e1768cddf8853bb2d551b');
    expect(await crypto.decrypt({ key, iv, ciphertext: t16.ciphertext, tag: t16.tag, aad })).toEqual(p.subarray(0, 60));
  });
});

describe('against node:crypto', () => {
  const data = nodeCrypto.randomBytes(300_000);
  it.each(['sha1', 'sha256', 'sha384', 'sha512', 'sha3-256', 'md5'])('%s one-shot, streaming and hashStream match', async (alg) => {
    const expected = nodeCrypto.createHash(alg).update(data).digest();
    expect(await crypto.hash(alg, data)).toEqual(expected);
    const h = crypto.createHash(alg);
    for (let i = 0; i < data.length; i += 9999) h.update(data.subarray(i, i + 9999));
    expect(await h.digest()).toEqual(expected);
    async function* chunks() {
      for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
    }
    expect(await crypto.hashStream(alg, chunks())).toEqual(expected);
  });

  it('hmac, pbkdf2, scrypt, hkdf and GCM round trips match', async () => {
    const key = nodeCrypto.randomBytes(32);
    expect(await crypto.hmac('sha512', key, data)).toEqual(nodeCrypto.createHmac('sha512', key).update(data).digest());
    expect(await crypto.pbkdf2(key, 'salt', 1000, 48, 'sha512')).toEqual(nodeCrypto.pbkdf2Sync(key, 'salt', 1000, 48, 'sha512'));
    expect(await crypto.scrypt(key, 'salt', 32)).toEqual(nodeCrypto.scryptSync(key, 'salt', 32));
    expect(await crypto.hkdf('sha384', key, 'salt', 'info', 100)).toEqual(Buffer.from(nodeCrypto.hkdfSync('sha384', key, 'salt', 'info', 100)));
    const iv = await crypto.randomBytes(12);
    expect(iv.length).toBe(12);
    const sealed = await crypto.encrypt({ key, iv, plaintext: data, aad: 'header' });
    const c = nodeCrypto.createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from('header'));
    expect(sealed.ciphertext).toEqual(Buffer.concat([c.update(data), c.final()]));
    expect(sealed.tag).toEqual(c.getAuthTag());
    expect(await crypto.decrypt({ key, iv, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: 'header' })).toEqual(data);
  });

  it('one tick of many one-shot hashes and HMACs (several batches) matches, input by input', async () => {
    const big = nodeCrypto.randomBytes(3 * 1024 * 1024 + 5); // larger than a batch: a buffer of its own
    const base = nodeCrypto.randomBytes(70_000);
    const algorithms = ['sha256', 'sha512', 'sha1', 'md5', 'sha3-512', 'blake2b512', 'shake256', 'sha384'];
    const inputs: { alg: string; key?: string | Buffer; data: nodeCrypto.BinaryLike }[] = [];
    for (let i = 0; i < 700; i++) {
      const alg = algorithms[i % algorithms.length] as string;
      const size = [0, 1, 7, 63, 64, 65, 4096, 65_536, 69_999][i % 9] as number;
      const start = i % 13;
      let data: nodeCrypto.BinaryLike;
      if (i % 5 === 0) data = `ü€𝄞 ${i} \ud800 `.repeat(size % 50); // multi-byte UTF-8 and a lone surrogate
      else if (i % 7 === 0) data = new DataView(base.buffer, base.byteOffset + start, Math.min(size, base.length - start));
      else if (i % 11 === 0) data = new Uint16Array(base.buffer, base.byteOffset + 2 * start, Math.floor(Math.min(size, 60_000) / 2));
      else data = base.subarray(start, start + size);
      inputs.push(i % 3 === 0 && alg !== 'shake256' ? { alg, key: i % 2 === 0 ? `k${i}` : base.subarray(i, i + 40), data } : { alg, data });
    }
    inputs.push({ alg: 'sha256', data: big }, { alg: 'sha512', key: 'big', data: big });
    // node:crypto refuses HMAC with an XOF: that call alone rejects, with node's error, and its batch goes on.
    let nodeError: Error | undefined;
    try {
      nodeCrypto.createHmac('shake256', 'k').update('x').digest();
    } catch (err) {
      nodeError = err as Error;
    }
    expect(nodeError).toBeInstanceOf(Error);
    const refused = crypto.hmac('shake256', 'k', 'x').then(() => 'resolved', (err: unknown) => err);
    const got = await Promise.all(inputs.map((x) => (x.key === undefined ? crypto.hash(x.alg, x.data) : crypto.hmac(x.alg, x.key, x.data))));
    inputs.forEach((x, i) => {
      const h = x.key === undefined ? nodeCrypto.createHash(x.alg) : nodeCrypto.createHmac(x.alg, x.key);
      expect(got[i]?.toString('hex'), `input ${i} (${x.alg})`).toBe(h.update(x.data).digest('hex'));
    });
    const error = await refused;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(nodeError?.message);
  });

  it('one-shot inputs are taken at call time, as by node:crypto, and reused buffers hold no stale digests', async () => {
    for (let round = 0; round < 4; round++) {
      const datas = Array.from({ length: 40 }, (_, i) => Buffer.alloc(65_536 + i, round * 40 + i));
      const key = Buffer.alloc(32, round);
      const expected = datas.map((d) => nodeCrypto.createHash('sha256').update(d).digest('hex'));
      const expectedMac = nodeCrypto.createHmac('sha256', key).update(datas[0] as Buffer).digest('hex');
      const pending = datas.map((d) => crypto.hash('sha256', d));
      const mac = crypto.hmac('sha256', key, datas[0] as Buffer);
      // Changed before the batch leaves for the pool: the digests must not see it.
      for (const d of datas) d.fill(0xff);
      key.fill(0xee);
      expect((await Promise.all(pending)).map((b) => b.toString('hex'))).toEqual(expected);
      expect((await mac).toString('hex')).toBe(expectedMac);
    }
  });

  it('streaming update() takes its data at once: a buffer reused between updates hashes like node:crypto', async () => {
    const buf = Buffer.alloc(1000, 1);
    const ours = crypto.createHmac('sha256', buf.subarray(0, 32));
    const theirs = nodeCrypto.createHmac('sha256', buf.subarray(0, 32));
    for (let i = 0; i < 20; i++) {
      ours.update(buf);
      theirs.update(buf);
      buf.fill(i + 2); // the key's bytes change too: they were taken at createHmac()
    }
    ours.update('tail ü');
    theirs.update('tail ü');
    expect(await ours.digest('hex')).toBe(theirs.digest('hex'));
  });

  it('inputs of a task still waiting in the pool\'s queue are the ones given at call time', async () => {
    const password = Buffer.from('correct horse battery staple');
    const salt = Buffer.from('NaCl');
    const plaintext = Buffer.alloc(100_000, 7);
    const key = Buffer.alloc(32, 9);
    const iv = Buffer.alloc(12, 3);
    const expectedKey = nodeCrypto.pbkdf2Sync(password, salt, 1000, 32, 'sha256');
    const c = nodeCrypto.createCipheriv('aes-256-gcm', key, iv);
    const expectedCiphertext = Buffer.concat([c.update(plaintext), c.final()]);
    const expectedTag = c.getAuthTag();
    const expectedDigest = nodeCrypto.createHash('sha256').update(plaintext).digest('hex');
    // Keep both workers busy so the calls below wait in the queue, then wipe the caller's buffers.
    const busy = [crypto.pbkdf2('x', 'y', 200_000, 32, 'sha256'), crypto.pbkdf2('x', 'z', 200_000, 32, 'sha256')];
    const derived = crypto.pbkdf2(password, salt, 1000, 32, 'sha256');
    const sealed = crypto.encrypt({ key, iv, plaintext });
    const digest = crypto.hash('sha256', plaintext, { signal: new AbortController().signal });
    for (const b of [password, salt, plaintext, key, iv]) b.fill(0);
    expect(await derived).toEqual(expectedKey);
    const s = await sealed;
    expect(s.ciphertext).toEqual(expectedCiphertext);
    expect(s.tag).toEqual(expectedTag);
    expect((await digest).toString('hex')).toBe(expectedDigest);
    await Promise.all(busy);
  });

  it('random bytes differ between calls and cover the requested size', async () => {
    const [a, b] = await Promise.all([crypto.randomBytes(64), crypto.randomBytes(64)]);
    expect(a.length).toBe(64);
    expect(a.equals(b)).toBe(false);
    expect((await crypto.randomBytes(0)).length).toBe(0);
  });
});

describe('errors', () => {
  it('a tampered ciphertext, tag or AAD is refused with node:crypto\'s error', async () => {
    const key = Buffer.alloc(32, 1);
    const iv = Buffer.alloc(12, 2);
    const sealed = await crypto.encrypt({ key, iv, plaintext: 'attack at dawn' });
    const bad = Buffer.from(sealed.ciphertext);
    bad[0] = (bad[0] as number) ^ 1;
    let nodeMessage = '';
    try {
      const d = nodeCrypto.createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(sealed.tag);
      d.update(bad);
      d.final();
    } catch (err) {
      nodeMessage = (err as Error).message;
    }
    expect(nodeMessage).not.toBe('');
    await expect(crypto.decrypt({ key, iv, ciphertext: bad, tag: sealed.tag })).rejects.toThrow(nodeMessage);
    await expect(crypto.decrypt({ key, iv, ciphertext: sealed.ciphertext, tag: sealed.tag, aad: 'x' })).rejects.toThrow(nodeMessage);
  });

  it('bad arguments reject with ERR_FDLOOP_INVALID_ARGUMENT before reaching a worker', async () => {
    await expect(crypto.hash('sha-nope', 'x')).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT', argument: 'algorithm' });
    await expect(crypto.hash('sha256', 42 as never)).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT', argument: 'data' });
    await expect(crypto.encrypt({ key: Buffer.alloc(16), iv: Buffer.alloc(12), plaintext: 'x' })).rejects.toMatchObject({ argument: 'key' });
    await expect(crypto.pbkdf2('p', 's', 0, 32, 'sha256')).rejects.toMatchObject({ argument: 'iterations' });
    await expect(crypto.randomBytes(-1)).rejects.toMatchObject({ argument: 'size' });
    expect(() => crypto.createHash('nope')).toThrow(/algorithm/);
    const h = crypto.createHash('sha256');
    await h.digest();
    expect(() => h.update('more')).toThrow(/already/);
    await expect(h.digest()).rejects.toMatchObject({ code: 'ERR_FDLOOP_INVALID_ARGUMENT' });
  });

  it('scrypt parameters node:crypto refuses come back with its error code', async () => {
    let expected: NodeJS.ErrnoException | undefined;
    try {
      nodeCrypto.scryptSync('p', 's', 32, { N: 3 });
    } catch (err) {
      expected = err as NodeJS.ErrnoException;
    }
    const got = (await crypto.scrypt('p', 's', 32, { N: 3 }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(got.message).toBe(expected?.message);
    expect(got.code).toBe(expected?.code);
    expect(got).toBeInstanceOf(expected?.constructor as ErrorConstructor);
  });
});
