# Cross build for 64-bit Arm Linux with Debian's cross compilers
# (g++-aarch64-linux-gnu), tests run under user-mode QEMU:
#
#   cmake -S . -B build/arm -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#     -DKILN_BUILD_TOOLCHAIN=OFF -DKILN_WITH_TORCH=OFF -DKILN_BUILD_BENCH=OFF
#
# scripts/test_arm.sh does this and runs the tests under several QEMU CPU
# models (QEMU_CPU), so both the plain NEON and the dot-product paths run.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Headers and libraries come from the cross sysroot; programs (flatc, which
# only generates code) from the host.
set(KILN_AARCH64_SYSROOT /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH ${KILN_AARCH64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest and gtest_discover_tests run the Arm executables through QEMU; -L
# points its dynamic loader at the sysroot. The CPU model is taken from the
# QEMU_CPU environment variable (default: max).
set(CMAKE_CROSSCOMPILING_EMULATOR
    "qemu-aarch64-static;-L;${KILN_AARCH64_SYSROOT}")
