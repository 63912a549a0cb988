import './base.css';
import './rooms.css';
import './versioning.css';
