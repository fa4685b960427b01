// Built-in experiments, as YAML: `ovl lab show NAME` prints exactly this, so it can be copied and
// edited. Each carries expectations that pass on the kernels ovl is tested on (6.18 here).

const mib = 1024 * 1024;

const sizes: [string, number][] = [
	['4k', 4096],
	['1m', mib],
	['16m', 16 * mib],
	['64m', 64 * mib],
	['256m', 256 * mib],
];

function copyUpCost(): string {
	const files = [...sizes.map(([n, b]) => `        c${n}: {size: ${b}}`), `        m256m: {size: ${256 * mib}}`].join(
		'\n',
	);
	const steps = sizes
		.map(([n]) => {
			const timed = n === '256m' ? `, slowerThan: {step: second-${n}, factor: 10}` : '';
			return `  - append: {path: c${n}, content: x}
    id: first-${n}
    label: first write to a ${n} lower file (full copy-up)
    expect: {upper: {c${n}: copy-up}${timed}}
  - append: {path: c${n}, content: x}
    id: second-${n}
    label: second write to the ${n} file (already in the upper)`;
		})
		.join('\n');
	return `name: copy-up-cost
description: >-
  The first write to a lower file copies the whole file up; the second write is cheap. With
  metacopy=on a chmod copies only metadata and the data moves at the first write.
stack:
  lowers:
    - name: lower
      files:
${files}
  upper: true
steps:
${steps}
  - umount: {}
  - mount: {options: [metacopy=on]}
  - chmod: {path: m256m, mode: "600"}
    id: metachmod-256m
    label: chmod of a 256m lower file with metacopy=on (metadata only)
    expect: {upper: {m256m: metacopy}}
  - append: {path: m256m, content: x}
    id: metawrite-256m
    label: first write after the metadata-only copy (the data is copied now)
    expect: {upper: {m256m: copy-up}, slowerThan: {step: metachmod-256m, factor: 10}}
`;
}

export const builtins: Readonly<Record<string, string>> = {
	blog: `name: blog
description: >-
  The classic hands-on: two lower layers, a file shadowed by the upper lower, rm leaving a
  whiteout in the upper while the lower stays intact, and the caveat of editing a lower layer
  under a live mount.
stack:
  lowers:            # bottom -> top: lowerdir=lower2:lower1
    - name: lower1
      files: {a: "docker\\noverlay\\n", b: "b from lower1\\n"}
    - name: lower2
      files: {b: "filesystem\\n"}
  upper: true
steps:
  - ls: /
    label: merged shows a and b
    expect: {listing: [a, b]}
  - read: b
    label: b comes from lower2, the upper of the two lowers
    expect: {content: "filesystem\\n", upperUnchanged: true}
  - rm: a
    label: rm merged/a
    expect: {upper: {a: whiteout}, merged: {a: null}, lowerUnchanged: true}
  - ls: /
    expect: {listing: [b]}
  - lower-write: {layer: lower2, path: b, append: "edited in lower2 while mounted\\n"}
    id: edit-lower
    label: "the caveat: append to lower2/b directly, under the live mount"
    expect: {upperUnchanged: true}
  - read: b
    label: what merged shows now (undefined by the kernel docs; recorded on this kernel)
    expect: {content: "filesystem\\nedited in lower2 while mounted\\n", upperUnchanged: true}
`,
	'copy-up-cost': copyUpCost(),
	'layer-depth': `name: layer-depth
description: >-
  Looking up names that live in the bottom layer gets slower as empty layers pile up above it:
  the same 200 lookups with 1, 10, 100 and 500 lower layers.
stack:
  lowers:
    - name: bottom
      files: {"f{0..199}": x}
    - name: empty
      repeat: 499
  upper: true
steps:
${[1, 10, 100, 500]
	.map(
		(n) => `  - umount: {}
  - mount: {lowers: ${n}}
  - walk: /
    id: depth-${n}
    label: 200 lookups with ${n} lower layer${n === 1 ? '' : 's'}${n === 500 ? '\n    expect: {slowerThan: {step: depth-1, factor: 2}}' : ''}`,
	)
	.join('\n')}
`,
	'opaque-dir': `name: opaque-dir
description: >-
  rm -rf of a lower directory, then mkdir of the same name: the new directory is opaque and
  hides the lower contents.
stack:
  lowers:
    - name: lower
      files: {d/a: "1\\n", d/b: "2\\n"}
  upper: true
steps:
  - rm-r: d
    expect: {upper: {d: whiteout}, merged: {d: null}}
  - mkdir: d
    label: mkdir where a lower directory was removed
    expect: {upper: {d: opaque-dir}}
  - ls: d
    expect: {listing: []}
  - write: {path: d/c, content: "new\\n"}
    expect: {upper: {d/c: new}, diff: {D: [/d/a, /d/b], A: [/d/c]}, lowerUnchanged: true}
`,
	'rename-dir': `name: rename-dir
description: Renaming a lower directory fails with EXDEV unless redirect_dir=on, which records a redirect instead.
stack:
  lowers:
    - name: lower
      files: {dir/f: "x\\n", dir/sub/g: "y\\n"}
  upper: true
steps:
  - mv: {from: dir, to: moved}
    label: rename(2) of a lower directory, default options
    expect: {errno: EXDEV, upperUnchanged: true}
  - umount: {}
  - mount: {options: [redirect_dir=on], fresh: true}
  - mv: {from: dir, to: moved}
    label: the same rename with redirect_dir=on
    expect: {upper: {moved: redirect-dir, dir: whiteout}, merged: {moved/f: "x\\n", dir: null}}
  - mkdir: other
  - mv: {from: moved, to: other/deeper}
    label: a move across directories gives an absolute redirect
    expect: {upper: {other/deeper: redirect-dir}, merged: {other/deeper/sub/g: "y\\n"}}
`,
	commit: `name: commit
description: >-
  ovl commit applies the upper to the lower exactly: a deletion, an rm -rf + mkdir (opaque), a
  renamed directory (redirect), a metadata-only copy-up (metacopy), then the stack mounts again
  on the new lower with an empty upper and shows the same tree.
stack:
  lowers:
    - name: lower
      files: {gone: "1\\n", d/old: "2\\n", dir/f: "x\\n", meta: "data\\n"}
  upper: true
  options: [redirect_dir=on, metacopy=on]
steps:
  - rm: gone
  - rm-r: d
  - mkdir: d
  - write: {path: d/new, content: "new\\n"}
    expect: {upper: {d: opaque-dir, d/new: new}}
  - mv: {from: dir, to: moved}
    expect: {upper: {moved: redirect-dir, dir: whiteout}}
  - chmod: {path: meta, mode: "600"}
    expect: {upper: {meta: metacopy}}
  - commit: {}
    label: ovl commit into the lower, verified against the merged view
    expect: {upper: {gone: null, d: null, moved: null, meta: null}}
  - mount: {}
    label: the stack on the new lower
    expect:
      merged: {gone: null, d/old: null, d/new: "new\\n", moved/f: "x\\n", dir: null, meta: "data\\n"}
      upperUnchanged: true
`,
	hardlinks: `name: hardlinks
description: With index=off, copying up one name of a lower hard link breaks the link; with index=on the names stay linked.
stack:
  lowers:
    - name: lower
      files: {h1: "v1\\n"}
      links: {h2: h1}
  upper: true
  options: [index=off]
steps:
  - append: {path: h1, content: "v2\\n"}
    expect: {upper: {h1: copy-up}}
  - read: h2
    label: "index=off: h2 still shows the lower copy"
    expect: {content: "v1\\n"}
  - umount: {}
  - mount: {options: [index=on], fresh: true}
  - append: {path: h1, content: "v2\\n"}
    expect: {upper: {h1: copy-up}}
  - read: h2
    label: "index=on: h2 follows h1"
    expect: {content: "v1\\nv2\\n"}
`,
	'docker-layers': `name: docker-layers
description: Image layers as lowers, the container layer as upper; delete, modify and add, then what docker diff would show.
stack:
  lowers:
    - name: base
      files: {etc/os-release: "ID=debian\\n", etc/motd: "hello\\n", bin/sh: "#!/bin/sh\\n"}
    - name: app
      files: {app/main.py: "print(1)\\n", etc/motd: "welcome\\n"}
  upper: true
  options: [index=off]
steps:
  - rm: etc/os-release
    expect: {upper: {etc/os-release: whiteout}}
  - append: {path: app/main.py, content: "print(2)\\n"}
    expect: {upper: {app/main.py: copy-up}}
  - write: {path: app/new.txt, content: "data\\n"}
    expect: {upper: {app/new.txt: new}}
  - read: etc/motd
    label: motd comes from the app layer
    expect: {content: "welcome\\n", diff: {D: [/etc/os-release], C: [/app/main.py], A: [/app/new.txt]}}
`,
};
