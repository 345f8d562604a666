# Install layout and the Debian package (CPack), included by the top-level
# CMakeLists.txt after the targets exist.
#
#   bin/tiergate                              the gateway
#   /etc/tiergate/tiergate.json               the default configuration (a conffile)
#   share/tiergate/classifier.model           the classifier model, found by an
#                                             installed gateway from its own location
#   share/tiergate/demo.json                  the demo's configuration
#   share/man/man1/tiergate.1.gz              every flag (as --help)
#   share/doc/tiergate/                       copyright, the fleet example
#   /lib/systemd/system/tiergate.service      the hardened unit, neither enabled nor started
#
# The prefix defaults to /usr, a daemon configured in /etc being a system
# package's layout; `cmake --install BUILD` as root installs it, DESTDIR or
# the package put it elsewhere.
include_guard(GLOBAL)

if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(CMAKE_INSTALL_PREFIX /usr CACHE PATH "Install prefix" FORCE)
endif()
include(GNUInstallDirs)

# The data directory as seen from the binary's directory (datadir.h), so the
# installed tree can move as a whole (a package unpacked into a scratch root).
file(RELATIVE_PATH TIERGATE_DATADIR_REL ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DATADIR}/tiergate)
set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/datadir.c APPEND PROPERTY
  COMPILE_DEFINITIONS TIERGATE_DATADIR_REL="${TIERGATE_DATADIR_REL}")

# Debian's units are in /lib/systemd/system (bookworm); elsewhere, under
# the prefix.
set(TIERGATE_UNIT_DIR "" CACHE PATH "Where the systemd unit goes (empty: as the prefix suggests)")
if(TIERGATE_UNIT_DIR)
  set(tiergate_unit_dir ${TIERGATE_UNIT_DIR})
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(tiergate_unit_dir /lib/systemd/system)
else()
  set(tiergate_unit_dir ${CMAKE_INSTALL_LIBDIR}/systemd/system)
endif()

# The man page, compressed as Debian policy wants it (-n: no name or time in
# the header, so the package is reproducible).
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/tiergate.1.gz
  COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/docs/tiergate.1 > ${CMAKE_BINARY_DIR}/tiergate.1.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/docs/tiergate.1 VERBATIM)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/changelog.gz
  COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/packaging/changelog > ${CMAKE_BINARY_DIR}/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/changelog VERBATIM)
add_custom_target(tiergate_docs ALL DEPENDS ${CMAKE_BINARY_DIR}/tiergate.1.gz ${CMAKE_BINARY_DIR}/changelog.gz)

set(TIERGATE_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/tiergate)
install(TARGETS tiergate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES config/tiergate.json DESTINATION ${TIERGATE_CONF_DIR})
install(FILES config/classifier.model config/demo.json DESTINATION ${CMAKE_INSTALL_DATADIR}/tiergate)
install(FILES ${CMAKE_BINARY_DIR}/tiergate.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES packaging/copyright ${CMAKE_BINARY_DIR}/changelog.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES config/fleet-example.json DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
configure_file(packaging/tiergate.service.in ${CMAKE_BINARY_DIR}/packaging/tiergate.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/tiergate.service DESTINATION ${tiergate_unit_dir})

# The Debian package: `cmake --build BUILD --target package`.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tiergate)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The package installs what the build was configured for: build it with the
# default prefix, /usr, for /etc/tiergate and /lib/systemd/system.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(WARNING "CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}: the Debian package will not follow Debian's layout (configure with -DCMAKE_INSTALL_PREFIX=/usr)")
endif()
set(CPACK_PACKAGE_CONTACT "tiergate maintainers <maintainers@tiergate.invalid>" CACHE STRING
    "The package's Maintainer field: an integrator shipping it puts their own")
# The synopsis, then the long description (CPack indents it and writes an
# empty line as Debian's " .").
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "gateway routing chat requests between an on-device and a cloud model
tiergate is a small gateway speaking OpenAI's Chat Completions API. It routes
simple requests to a small model on the device and complex ones to a large
cloud model, with fallback when the network is weak or gone.

The systemd unit tiergate.service is installed but neither enabled nor
started: edit ${TIERGATE_CONF_DIR}/tiergate.json, put API keys in
${TIERGATE_CONF_DIR}/tiergate.env, then run systemctl enable --now tiergate.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
# The runtime libraries only (libc6, libmicrohttpd12, libcurl4, libcjson1),
# with the versions dpkg-shlibdeps reads off the binary's symbols.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
endif()
# conffiles only: no maintainer script, so installing the package never
# enables or starts a gateway against a configuration nobody has written.
configure_file(packaging/conffiles.in ${CMAKE_BINARY_DIR}/packaging/conffiles @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
