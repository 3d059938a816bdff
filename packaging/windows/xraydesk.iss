; Inno Setup 6 script for XRayDesk (Windows installer). Build the bundle first, then:
;
;   iscc /DAppVersion=0.1.0 packaging\windows\xraydesk.iss
;   iscc /DAppVersion=0.1.0 /DBundleDir=C:\path\to\dist\XRayDesk /DOutputDir=C:\out packaging\windows\xraydesk.iss
;
; -> dist\XRayDesk-<version>-setup.exe. .github/workflows/build.yml passes the version read
; from pyproject.toml. Relative paths are relative to this file.
;
; What it does:
;   * installs the PyInstaller one-folder bundle to {autopf}\XRayDesk (Program Files for an
;     administrator install, %LOCALAPPDATA%\Programs for "install for me only");
;   * Start-menu shortcut, optional desktop icon;
;   * "Open with > XRayDesk" for .png .jpg .jpeg .tif .tiff .bmp .dcm through OpenWithProgids
;     and Applications\XRayDesk.exe\SupportedTypes: it offers itself and never takes over the
;     default program of a type (Windows 10/11 would not let an installer do that anyway);
;   * uninstalls everything it wrote: files, shortcuts and registry entries. Patient records
;     and settings in %LOCALAPPDATA%\XRayDesk are the clinic's data and stay.

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=x.y.z xraydesk.iss
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\XRayDesk"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
; VersionInfoVersion must be numeric (a.b.c.d); a pre-release suffix such as "rc1" is cut off.
#ifndef NumericVersion
  #define NumericVersion AppVersion
#endif

#define AppName "XRayDesk"
#define AppExe "XRayDesk.exe"
#define ProgId "XRayDesk.XRayImage"

[Setup]
; AppId identifies the product for upgrades and uninstall: never change it.
AppId={{6B0F3E7A-2C41-4D8E-9B57-1E4A9C2D7F30}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppName}
AppComments=Offline X-ray assistant. Decision support only - not a diagnosis.
VersionInfoVersion={#NumericVersion}
VersionInfoProductName={#AppName}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Administrator install by default; the user may choose "only for me" (no elevation).
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog commandline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=..\..\resources\icons\xraydesk.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; Tells Explorer to refresh its file-type icons and "Open with" lists after install/uninstall.
ChangesAssociations=yes
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Offline X-ray assistant"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA = HKLM for an administrator install, HKCU for "only for me".
; The ProgId: how an X-ray file opened with XRayDesk is described and started.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "X-ray image"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open"; ValueType: string; ValueName: ""; ValueData: "Open with XRayDesk"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; The application itself, for the "Open with" dialog.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".png"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".jpg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".jpeg"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".tif"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".tiff"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".bmp"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".dcm"; ValueData: ""
; Each type lists XRayDesk among its programs; only our value goes on uninstall, the key and
; whatever default another program set stay.
Root: HKA; Subkey: "Software\Classes\.png\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.jpg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.jpeg\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tif\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.tiff\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.bmp\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only the install folder (in case anything was left next to the bundle); never user data.
Type: dirifempty; Name: "{app}\_internal"
Type: dirifempty; Name: "{app}"
