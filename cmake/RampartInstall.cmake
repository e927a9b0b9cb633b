# cmake --install: headers under include/rampart/, the module libraries, the rampart
# executable and a CMake package so that find_package(Rampart) gives rampart::rampart.
include(CMakePackageConfigHelpers)

get_property(_rampart_modules GLOBAL PROPERTY RAMPART_MODULES)
install(TARGETS ${_rampart_modules} rampart
        EXPORT RampartTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rampart)
install(EXPORT RampartTargets NAMESPACE rampart::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Rampart)
configure_package_config_file(cmake/RampartConfig.cmake.in
  ${PROJECT_BINARY_DIR}/RampartConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Rampart)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/RampartConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/RampartConfig.cmake
              ${PROJECT_BINARY_DIR}/RampartConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Rampart)
