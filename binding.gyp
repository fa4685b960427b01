{
  "targets": [
    {
      "target_name": "ovl_native",
      "sources": ["native/ovl.c", "native/scan.c", "native/spawn.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
