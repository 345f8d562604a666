# Cross build for 64-bit ARM Linux (car head units, ARM kiosks) on a Debian
# host: Debian's aarch64-linux-gnu-gcc, and the arm64 -dev packages of the
# three libraries installed beside the host's through multiarch
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu libmicrohttpd-dev:arm64 \
#           libcurl4-openssl-dev:arm64 libcjson-dev:arm64 qemu-user
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# Debian's cross compiler already searches the multiarch directories
# (/usr/include/aarch64-linux-gnu, /usr/lib/aarch64-linux-gnu), so no sysroot
# is set; pkg-config is pointed at the arm64 .pc files only, so a host
# library can never be picked by mistake.  Tests run under qemu-user
# (CMAKE_CROSSCOMPILING_EMULATOR), found here when it is installed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

find_program(TIERGATE_QEMU_AARCH64 qemu-aarch64)
if(TIERGATE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TIERGATE_QEMU_AARCH64})
endif()
