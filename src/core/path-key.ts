// SHA-256 (FIPS 180-4) of a path's bytes, for the names of registry records and lock files. In
// JavaScript because loading node:crypto costs ~6 ms of every mount and umount here (the whole
// command is ~100 ms), for a hash of a few dozen bytes. Tested against node:crypto.

const k = new Uint32Array([
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
	0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
	0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));

/** The SHA-256 digest of `data`, as lowercase hex. */
export function sha256Hex(data: Uint8Array): string {
	// Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number, to a multiple of 64.
	const blocks = Math.ceil((data.length + 9) / 64);
	const msg = new Uint8Array(blocks * 64);
	msg.set(data);
	msg[data.length] = 0x80;
	const view = new DataView(msg.buffer);
	view.setUint32(msg.length - 8, Math.floor(data.length / 0x20000000));
	view.setUint32(msg.length - 4, (data.length * 8) >>> 0);
	const h = new Uint32Array([
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	]);
	const w = new Uint32Array(64);
	const at = (a: Uint32Array, i: number): number => a[i] as number;
	for (let block = 0; block < blocks; block++) {
		for (let i = 0; i < 16; i++) w[i] = view.getUint32(block * 64 + i * 4);
		for (let i = 16; i < 64; i++) {
			const w15 = at(w, i - 15);
			const w2 = at(w, i - 2);
			const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
			const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
			w[i] = at(w, i - 16) + s0 + at(w, i - 7) + s1;
		}
		let a = at(h, 0);
		let b = at(h, 1);
		let c = at(h, 2);
		let d = at(h, 3);
		let e = at(h, 4);
		let f = at(h, 5);
		let g = at(h, 6);
		let hh = at(h, 7);
		for (let i = 0; i < 64; i++) {
			const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + at(k, i) + at(w, i)) >>> 0;
			const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
			hh = g;
			g = f;
			f = e;
			e = (d + t1) >>> 0;
			d = c;
			c = b;
			b = a;
			a = (t1 + t2) >>> 0;
		}
		[a, b, c, d, e, f, g, hh].forEach((x, i) => (h[i] = (at(h, i) + x) >>> 0));
	}
	let hex = '';
	for (const x of h) hex += x.toString(16).padStart(8, '0');
	return hex;
}
