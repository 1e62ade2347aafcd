# Install rules: the library, its public headers, a CMake package (find_package(weft CONFIG) gives weft::weft)
# and a pkg-config file (weft.pc).
include(CMakePackageConfigHelpers)

set(WEFT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft CACHE STRING "Where the CMake package goes")

install(TARGETS weft EXPORT weftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/weft DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/lib/include/weft/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weft)
install(EXPORT weftTargets NAMESPACE weft:: DESTINATION ${WEFT_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/weftConfig.cmake.in
  ${PROJECT_BINARY_DIR}/weftConfig.cmake INSTALL_DESTINATION ${WEFT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weftConfig.cmake ${PROJECT_BINARY_DIR}/weftConfigVersion.cmake
  DESTINATION ${WEFT_INSTALL_CMAKEDIR})

# pkg-config: a static libweft needs libzmq and threads on every link line, a shared one only privately.
if(BUILD_SHARED_LIBS)
  set(WEFT_PC_REQUIRES "")
  set(WEFT_PC_REQUIRES_PRIVATE "libzmq libxxhash")
  set(WEFT_PC_LIBS_EXTRA "")
else()
  set(WEFT_PC_REQUIRES "libzmq libxxhash")
  set(WEFT_PC_REQUIRES_PRIVATE "")
  set(WEFT_PC_LIBS_EXTRA "-pthread")
endif()
# Relocatable: the prefix is found from where weft.pc lies, so `cmake --install --prefix X` works too.
file(RELATIVE_PATH WEFT_PC_UP "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
string(REGEX REPLACE "/$" "" WEFT_PC_UP "${WEFT_PC_UP}")
set(WEFT_PC_PREFIX "\${pcfiledir}/${WEFT_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/weft.pc.in ${PROJECT_BINARY_DIR}/weft.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/weft.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
